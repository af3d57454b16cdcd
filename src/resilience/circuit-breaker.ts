/**
 * A circuit breaker for one service. Its state is plain fields changed in short synchronous steps (admit a
 * call, record an outcome); the user's function runs between those steps, never inside one, so a slow or
 * hanging call cannot block other calls, status queries or other breakers.
 */
import { z } from 'zod';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import { BreakerState, BreakerTransitionReason } from './breaker-state.js';
import { BreakerTimeoutError, CircuitOpenError } from './errors.js';
import {
  describeError,
  emitTo,
  errorCode,
  type EventSink,
  type ResilienceEvents,
} from '../telemetry/index.js';
import { parseOptions } from './validate.js';

export interface CircuitBreakerOptions {
  /** Consecutive failures, while closed, that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /** Successful probes, while half-open, that close the breaker. Default 1. */
  readonly successThreshold?: number;
  /** How long the breaker stays open before letting probes through, in ms. Default 30000. */
  readonly resetTimeoutMs?: number;
  /**
   * How long one call may run, in ms. A call running longer counts as a failure, its AbortSignal is
   * aborted and the caller gets `breaker_timeout` at once. Default 10000.
   */
  readonly callTimeoutMs?: number;
  /** Probe calls allowed at the same time while half-open; further calls get `circuit_open`. Default 1. */
  readonly halfOpenMaxProbes?: number;
  /**
   * Whether an error counts as a failure of the service. Errors for which it returns false count as
   * neither success nor failure (e.g. the caller's own invalid input). Default: every error counts.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** Time source. Default the system clock. */
  readonly clock?: Clock;
  /** Where transition, rejection and timeout events go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

export interface CallOptions {
  /**
   * The caller's own cancellation. When it aborts, the call's signal aborts too and the caller gets the
   * signal's reason; the outcome counts as neither success nor failure.
   */
  readonly signal?: AbortSignal;
}

/** A snapshot of a breaker. Times are UNIX epoch ms. */
export interface BreakerStatus {
  readonly service: string;
  readonly state: BreakerState;
  /** Consecutive failures counted while closed. */
  readonly failures: number;
  /** Successful probes counted while half-open. */
  readonly successes: number;
  /** Calls running now (including timed-out calls whose function has not returned yet). */
  readonly activeCalls: number;
  /** Probe slots in use while half-open. */
  readonly activeProbes: number;
  /** When the breaker last opened, if it is open. */
  readonly openedAt: number | undefined;
  /** When an open breaker starts letting probes through. */
  readonly retryAt: number | undefined;
  readonly lastFailure:
    { readonly at: number; readonly code: string | undefined; readonly message: string } | undefined;
  /** Counts since the breaker was created. `stale` outcomes finished after the state they started in had ended and were not counted. */
  readonly totals: {
    readonly calls: number;
    readonly successes: number;
    readonly failures: number;
    readonly timeouts: number;
    readonly rejections: number;
    readonly stale: number;
  };
}

const optionsSchema = z.object({
  service: z.string().min(1),
  failureThreshold: z.number().int().min(1).default(5),
  successThreshold: z.number().int().min(1).default(1),
  resetTimeoutMs: z.number().int().min(0).default(30_000),
  callTimeoutMs: z.number().int().min(1).default(10_000),
  halfOpenMaxProbes: z.number().int().min(1).default(1),
});

/** An admitted call: the state generation it belongs to, and whether it holds a half-open probe slot. */
interface Permit {
  readonly generation: number;
  readonly probe: boolean;
}

type Outcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'failure'; readonly error: unknown; readonly timeout: boolean }
  | { readonly kind: 'ignored' };

export class CircuitBreaker {
  readonly service: string;
  private readonly failureThreshold: number;
  private readonly successThreshold: number;
  private readonly resetTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly halfOpenMaxProbes: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly clock: Clock;
  private readonly events: EventSink<ResilienceEvents> | undefined;

  private state: BreakerState = BreakerState.closed;
  // Bumped on every transition and reset; an outcome only counts toward the generation it started in, so
  // a call that began before the breaker opened cannot, say, close a half-open breaker when it returns.
  private generation = 0;
  private failures = 0;
  private successes = 0;
  private activeProbes = 0;
  private activeCalls = 0;
  private openedAt: number | undefined;
  private lastFailure: BreakerStatus['lastFailure'];
  private readonly totals = { calls: 0, successes: 0, failures: 0, timeouts: 0, rejections: 0, stale: 0 };

  constructor(service: string, options: CircuitBreakerOptions = {}) {
    const parsed = parseOptions(optionsSchema, { ...options, service }, 'circuit breaker options');
    this.service = service;
    this.failureThreshold = parsed.failureThreshold;
    this.successThreshold = parsed.successThreshold;
    this.resetTimeoutMs = parsed.resetTimeoutMs;
    this.callTimeoutMs = parsed.callTimeoutMs;
    this.halfOpenMaxProbes = parsed.halfOpenMaxProbes;
    this.isFailure = options.isFailure ?? (() => true);
    this.clock = options.clock ?? systemClock;
    this.events = options.events;
  }

  /**
   * Runs `fn` through the breaker. Rejects at once with `circuit_open` when the breaker refuses the call;
   * with `breaker_timeout` when `fn` runs past `callTimeoutMs` (its signal is then aborted); otherwise
   * settles as `fn` does.
   */
  async call<T>(fn: (signal: AbortSignal) => Promise<T> | T, options: CallOptions = {}): Promise<T> {
    const callerSignal = options.signal;
    if (callerSignal?.aborted === true) throw callerSignal.reason;
    const permit = this.admit();
    // From here on the breaker holds nothing: `fn` runs while other calls and queries go on.
    return new Promise<T>((resolve, reject) => {
      // Whatever `fn` threw is passed on as it is, Error or not.
      const fail: (reason: Error) => void = reject;
      const controller = new AbortController();
      let settled = false;
      const onCallerAbort = () => {
        controller.abort(callerSignal?.reason);
        finish({ kind: 'ignored' }, () => reject(callerSignal?.reason as Error));
      };
      const finish = (outcome: Outcome, answer: () => void) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        callerSignal?.removeEventListener('abort', onCallerAbort);
        this.record(permit, outcome);
        answer();
      };
      const timer: TimerHandle = this.clock.setTimer(this.callTimeoutMs, () => {
        const error = new BreakerTimeoutError(this.service, this.callTimeoutMs);
        controller.abort(error);
        emitTo(this.events, 'breaker.timeout', { service: this.service, timeoutMs: this.callTimeoutMs });
        finish({ kind: 'failure', error, timeout: true }, () => reject(error));
      });
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      // An async wrapper turns a synchronous throw from `fn` into a rejection like any other.
      const running = (async () => fn(controller.signal))();
      running.then(
        (value) => finish({ kind: 'success' }, () => resolve(value)),
        (error: unknown) =>
          finish(
            this.isFailure(error) ? { kind: 'failure', error, timeout: false } : { kind: 'ignored' },
            () => fail(error as Error),
          ),
      );
    });
  }

  /** The breaker's state now (an open breaker whose reset timeout has passed reports half_open). */
  status(): BreakerStatus {
    this.refresh();
    return {
      service: this.service,
      state: this.state,
      failures: this.failures,
      successes: this.successes,
      activeCalls: this.activeCalls,
      activeProbes: this.activeProbes,
      openedAt: this.state === BreakerState.open ? this.openedAt : undefined,
      retryAt:
        this.state === BreakerState.open && this.openedAt !== undefined
          ? this.openedAt + this.resetTimeoutMs
          : undefined,
      lastFailure: this.lastFailure,
      totals: { ...this.totals },
    };
  }

  /** The current state (same as `status().state`). */
  get currentState(): BreakerState {
    this.refresh();
    return this.state;
  }

  /**
   * Closes the breaker and clears its counters. Calls still running finish normally, but their outcomes
   * no longer count.
   */
  reset(): void {
    this.transition(BreakerState.closed, BreakerTransitionReason.manualReset);
  }

  /** Decides, synchronously, whether a call may run, and takes a probe slot when half-open. */
  private admit(): Permit {
    this.refresh();
    if (this.state === BreakerState.open) {
      const retryAfterMs = Math.max(0, (this.openedAt ?? 0) + this.resetTimeoutMs - this.clock.now());
      throw this.reject('open', retryAfterMs);
    }
    let probe = false;
    if (this.state === BreakerState.halfOpen) {
      if (this.activeProbes >= this.halfOpenMaxProbes) throw this.reject('probe_limit', 0);
      this.activeProbes++;
      probe = true;
    }
    this.activeCalls++;
    this.totals.calls++;
    return { generation: this.generation, probe };
  }

  private reject(reason: 'open' | 'probe_limit', retryAfterMs: number): CircuitOpenError {
    this.totals.rejections++;
    emitTo(this.events, 'breaker.rejected', { service: this.service, reason, retryAfterMs });
    return new CircuitOpenError(this.service, reason, retryAfterMs);
  }

  /** Counts a finished call toward the state it started in, and moves the state if a threshold is met. */
  private record(permit: Permit, outcome: Outcome): void {
    this.activeCalls--;
    if (outcome.kind === 'success') this.totals.successes++;
    if (outcome.kind === 'failure') {
      this.totals.failures++;
      if (outcome.timeout) this.totals.timeouts++;
      this.lastFailure = {
        at: this.clock.now(),
        code: errorCode(outcome.error),
        message: describeError(outcome.error),
      };
    }
    if (permit.generation !== this.generation) {
      // The state this call was admitted under has ended (and its probe slots were released with it).
      this.totals.stale++;
      return;
    }
    if (permit.probe) this.activeProbes--;
    if (outcome.kind === 'ignored') return;
    if (this.state === BreakerState.closed) {
      if (outcome.kind === 'success') {
        this.failures = 0;
      } else if (++this.failures >= this.failureThreshold) {
        this.transition(BreakerState.open, BreakerTransitionReason.failureThreshold);
      }
    } else if (this.state === BreakerState.halfOpen) {
      if (outcome.kind === 'failure') {
        this.transition(BreakerState.open, BreakerTransitionReason.probeFailed);
      } else if (++this.successes >= this.successThreshold) {
        this.transition(BreakerState.closed, BreakerTransitionReason.successThreshold);
      }
    }
  }

  /** open → half_open once the reset timeout has passed. Checked whenever the state is looked at, so no timer is kept. */
  private refresh(): void {
    if (
      this.state === BreakerState.open &&
      this.openedAt !== undefined &&
      this.clock.now() >= this.openedAt + this.resetTimeoutMs
    ) {
      this.transition(BreakerState.halfOpen, BreakerTransitionReason.resetTimeout);
    }
  }

  private transition(to: BreakerState, reason: BreakerTransitionReason): void {
    const from = this.state;
    const failures = to === BreakerState.open ? Math.max(this.failures, 1) : 0;
    this.state = to;
    this.generation++;
    this.failures = 0;
    this.successes = 0;
    this.activeProbes = 0;
    this.openedAt = to === BreakerState.open ? this.clock.now() : undefined;
    // The state is consistent before anyone hears of it, so a listener may call back into the breaker.
    if (from !== to) {
      emitTo(this.events, 'breaker.transition', {
        service: this.service,
        from,
        to,
        reason,
        failures,
        at: this.clock.now(),
      });
    }
  }
}
