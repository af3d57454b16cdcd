/**
 * Prometheus metrics on a private registry per node (never prom-client's global one, so two nodes in one
 * process, or two tests, never share counters). Layers add their own instruments with `counter`, `gauge`
 * and `histogram`, which return the existing instrument when the name is already registered.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';

export interface MetricsOptions {
  /** Prepended to every metric name. Default `garrison_`. */
  readonly prefix?: string;
  /** Labels added to every sample, e.g. `{ node: 'n1' }`. Default none. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/** Buckets for durations in seconds: 1 ms to 5 min. */
export const DURATION_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
/** Buckets for queue and mailbox depths. */
export const DEPTH_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];

export interface Metrics {
  readonly registry: Registry;
  readonly prefix: string;
  /** Processes started. */
  readonly processesSpawned: Counter;
  /** Processes ended, by `reason` (normal, shutdown, killed, error, other). */
  readonly processExits: Counter<'reason'>;
  /** Processes alive now (spawned minus exited). */
  readonly processesActive: Gauge;
  /** Restarts by supervisors, by `supervisor`. */
  readonly processRestarts: Counter<'supervisor'>;
  /** Mailbox depths observed at enqueue. */
  readonly mailboxDepth: Histogram;
  /** Pending timers, by `kind` (process, durable). */
  readonly timersActive: Gauge<'kind'>;
  /** 1 for each breaker's current state and 0 for its other states, by `service` and `state`. */
  readonly breakerState: Gauge<'service' | 'state'>;
  readonly breakerTransitions: Counter<'service' | 'from' | 'to'>;
  /** Calls refused by a breaker without running, by `service`. */
  readonly breakerRejections: Counter<'service'>;
  readonly breakerTimeouts: Counter<'service'>;
  readonly rateLimitDenials: Counter<'limiter'>;
  /** Retries scheduled, by `operation`. */
  readonly retries: Counter<'operation'>;
  /** Retry loops that stopped without a result, by `operation` and `reason`. */
  readonly retryGiveUps: Counter<'operation' | 'reason'>;
  /** Cache lookups by `cache` and `result` (hit, miss_absent, miss_expired). */
  readonly cacheLookups: Counter<'cache' | 'result'>;
  readonly cacheEvictions: Counter<'cache' | 'reason'>;
  /** Durable message deliveries by `outcome` (delivered, redelivered, dead_lettered). */
  readonly deliveries: Counter<'outcome'>;
  /** Finished task attempts by `queue` and `outcome`. */
  readonly tasks: Counter<'queue' | 'outcome'>;
  readonly taskDuration: Histogram<'queue'>;
  /** Finished workflows by `outcome`. */
  readonly workflows: Counter<'outcome'>;
  readonly workflowDuration: Histogram;
  readonly subscriberFailures: Counter;

  /** A counter named `prefix + name` (reused when it exists). Counter names should end in `_total`. */
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    buckets?: readonly number[],
  ): Histogram<L>;
  /** Runs `fn` before every `render` (to refresh gauges from their source); returns the remover. */
  beforeRender(fn: () => void | Promise<void>): () => void;
  /** The exposition text for a scrape. */
  render(): Promise<string>;
  /** The Content-Type header for `render`'s text. */
  readonly contentType: string;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const parsed = z
    .object({
      prefix: z
        .string()
        .regex(/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/)
        .default('garrison_'),
    })
    .safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid metrics options: ${describeIssues(parsed.error.issues)}`);
  const prefix = parsed.data.prefix;
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels({ ...options.defaultLabels });
  const hooks = new Set<() => void | Promise<void>>();

  const fullName = (name: string): string => {
    const full = prefix + name;
    if (!NAME.test(full)) throw new ValidationError(`invalid metric name ${JSON.stringify(full)}`);
    return full;
  };
  function existing<T>(name: string, type: new (...args: never[]) => T): T | undefined {
    const found = registry.getSingleMetric(name);
    if (found === undefined) return undefined;
    if (!(found instanceof type)) {
      throw new ValidationError(`metric ${name} is already registered as a different kind of metric`);
    }
    return found;
  }

  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => {
    const full = fullName(name);
    return (
      existing<Counter<L>>(full, Counter) ??
      new Counter<L>({ name: full, help, labelNames: [...labelNames], registers: [registry] })
    );
  };
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => {
    const full = fullName(name);
    return (
      existing<Gauge<L>>(full, Gauge) ??
      new Gauge<L>({ name: full, help, labelNames: [...labelNames], registers: [registry] })
    );
  };
  const histogram = <L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: readonly number[] = DURATION_BUCKETS_SECONDS,
  ) => {
    const full = fullName(name);
    return (
      existing<Histogram<L>>(full, Histogram) ??
      new Histogram<L>({
        name: full,
        help,
        labelNames: [...labelNames],
        buckets: [...buckets],
        registers: [registry],
      })
    );
  };

  return {
    registry,
    prefix,
    processesSpawned: counter('processes_spawned_total', 'Processes started.'),
    processExits: counter('process_exits_total', 'Processes ended, by reason.', ['reason']),
    processesActive: gauge('processes_active', 'Processes alive now.'),
    processRestarts: counter('process_restarts_total', 'Processes restarted by a supervisor.', [
      'supervisor',
    ]),
    mailboxDepth: histogram('mailbox_depth', 'Mailbox depth observed at enqueue.', [], DEPTH_BUCKETS),
    timersActive: gauge('timers_active', 'Pending timers, by kind.', ['kind']),
    breakerState: gauge('breaker_state', 'Circuit breaker state: 1 for the current state.', [
      'service',
      'state',
    ]),
    breakerTransitions: counter('breaker_transitions_total', 'Circuit breaker state changes.', [
      'service',
      'from',
      'to',
    ]),
    breakerRejections: counter('breaker_rejections_total', 'Calls refused by an open breaker.', ['service']),
    breakerTimeouts: counter('breaker_timeouts_total', 'Calls that outlived the breaker call timeout.', [
      'service',
    ]),
    rateLimitDenials: counter('rate_limit_denials_total', 'Acquires refused by a rate limiter.', ['limiter']),
    retries: counter('retries_total', 'Retries scheduled.', ['operation']),
    retryGiveUps: counter('retry_give_ups_total', 'Retry loops that stopped without a result.', [
      'operation',
      'reason',
    ]),
    cacheLookups: counter('cache_lookups_total', 'Cache lookups, by result.', ['cache', 'result']),
    cacheEvictions: counter('cache_evictions_total', 'Cache evictions, by reason.', ['cache', 'reason']),
    deliveries: counter('deliveries_total', 'Durable message deliveries, by outcome.', ['outcome']),
    tasks: counter('tasks_total', 'Finished task attempts, by queue and outcome.', ['queue', 'outcome']),
    taskDuration: histogram('task_duration_seconds', 'Task attempt duration.', ['queue']),
    workflows: counter('workflows_total', 'Finished workflows, by outcome.', ['outcome']),
    workflowDuration: histogram('workflow_duration_seconds', 'Workflow duration, start to finish.'),
    subscriberFailures: counter('telemetry_subscriber_failures_total', 'Event subscribers that threw.'),
    counter,
    gauge,
    histogram,
    beforeRender(fn) {
      hooks.add(fn);
      return () => {
        hooks.delete(fn);
      };
    },
    async render() {
      for (const hook of hooks) await hook();
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
}
