/**
 * The event map of a Garrison node: every event name with its payload type, so emitters and subscribers
 * are type-checked. Telemetry sits low in the layers, so the events of the layers above are declared here
 * too (their names are the contract `bindMetricsToBus` reads). A layer or an application adds events of
 * its own by declaration merging:
 *
 *   declare module '../telemetry/events.js' { interface GarrisonEvents { 'billing.charged': { cents: number } } }
 *
 * Times are UNIX epoch ms; durations are ms.
 */

/** Events the bus itself emits. */
export interface TelemetryEvents {
  /**
   * A subscriber threw (or its promise rejected) while handling `event`. The other subscribers still ran.
   * When nobody listens to this event, the failure is reported as a process warning instead.
   */
  'telemetry.subscriber_failed': {
    /** The event being handled. */
    readonly event: string;
    /** The pattern the failing subscriber subscribed with. */
    readonly pattern: string;
    /** What it threw. */
    readonly error: unknown;
    /** A one-line description of `error`. */
    readonly message: string;
  };
}

/** A circuit breaker's state. */
export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** Why a circuit breaker changed state. */
export type BreakerTransitionReasonName =
  'failure_threshold' | 'reset_timeout' | 'success_threshold' | 'probe_failed' | 'manual_reset';

/** Why a breaker refused a call: it is open, or it is half-open with every probe slot taken. */
export type CircuitOpenReason = 'open' | 'probe_limit';

/** Why a retry loop stopped without a result. */
export type RetryGiveUpReason =
  'exhausted' | 'not_retryable' | 'circuit_open' | 'budget_exhausted' | 'aborted';

/** Why a cache entry left the cache other than by `delete`/`clear`. */
export type CacheEvictionReason = 'capacity' | 'expired';

/** Why a cache lookup missed. */
export type CacheMissReason = 'absent' | 'expired';

/** Events of `src/resilience`. */
export interface ResilienceEvents {
  /** A breaker changed state. */
  'breaker.transition': {
    readonly service: string;
    readonly from: BreakerStateName;
    readonly to: BreakerStateName;
    readonly reason: BreakerTransitionReasonName;
    /** Consecutive failures counted when the breaker opened (0 for other transitions). */
    readonly failures: number;
    readonly at: number;
  };
  /** A breaker refused a call without running it. */
  'breaker.rejected': {
    readonly service: string;
    readonly reason: CircuitOpenReason;
    readonly retryAfterMs: number;
  };
  /** A call outlived its breaker's call timeout. */
  'breaker.timeout': { readonly service: string; readonly timeoutMs: number };
  /** A rate limiter refused an acquire. */
  'ratelimit.denied': {
    readonly limiter: string;
    readonly key: string;
    /** Tokens asked for. */
    readonly requested: number;
    /** Whole tokens left in the bucket. */
    readonly remaining: number;
    /** Wait until enough tokens for this request have refilled, in ms. */
    readonly retryAfterMs: number;
  };
  /** An attempt failed and another is scheduled after `delayMs`. */
  'retry.scheduled': {
    readonly operation: string;
    /** The attempt that failed (1 = the first call). */
    readonly attempt: number;
    readonly delayMs: number;
    readonly errorCode: string | undefined;
    readonly error: string;
  };
  /** A retry loop stopped without a result. */
  'retry.gave_up': {
    readonly operation: string;
    readonly attempts: number;
    readonly reason: RetryGiveUpReason;
    readonly errorCode: string | undefined;
    readonly error: string;
  };
  /** A retry budget went from healthy to exhausted (once per exhaustion, not per denied retry). */
  'retry.budget_exhausted': {
    readonly budget: string;
    readonly calls: number;
    readonly retries: number;
    readonly allowedRetries: number;
  };
  'cache.hit': { readonly cache: string; readonly key: string };
  'cache.miss': { readonly cache: string; readonly key: string; readonly reason: CacheMissReason };
  'cache.evict': { readonly cache: string; readonly key: string; readonly reason: CacheEvictionReason };
}

/** How a process ended, as the metrics count it. */
export type ProcessExitKind = 'normal' | 'shutdown' | 'killed' | 'error';

/** Events of the runtime, messaging and work layers that metrics count. */
export interface SystemEvents {
  'process.spawned': { readonly pid: string; readonly behaviour?: string };
  'process.exited': { readonly pid: string; readonly reason: ProcessExitKind; readonly message?: string };
  'process.restarted': { readonly pid: string; readonly supervisor: string };
  /** A mailbox's depth, observed when a message is enqueued (report it sampled on hot paths). */
  'mailbox.depth': { readonly pid: string; readonly depth: number };
  /** Timers pending now, by kind (in-memory process timers or durable store timers). */
  'timers.active': { readonly kind: 'process' | 'durable'; readonly count: number };
  'delivery.delivered': { readonly messageId: string; readonly attempt: number };
  'delivery.redelivered': { readonly messageId: string; readonly attempt: number };
  'delivery.dead_lettered': {
    readonly messageId: string;
    readonly attempts: number;
    readonly reason: string;
  };
  'task.finished': {
    readonly queue: string;
    readonly taskId: string;
    readonly outcome: 'completed' | 'failed' | 'retried' | 'dead_lettered';
    readonly durationMs: number;
  };
  'workflow.finished': {
    readonly workflowId: string;
    readonly name: string;
    readonly outcome: 'completed' | 'failed' | 'cancelled';
    readonly durationMs: number;
  };
}

/** Every event of a node. An interface, so other modules can merge events into it. */
export interface GarrisonEvents extends ResilienceEvents, SystemEvents, TelemetryEvents {}
