/**
 * Ready-made health checks: the store answers, its migrations are current, the scheduler runs, a queue
 * makes progress, and the node is within its resource limits. Each returns a spec for
 * `HealthChecks.register`; the name and the time limit can be overridden.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/index.js';
import type { SchedulerManager } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { ResourceManager } from '../resources/resource-manager.js';
import type { HealthCheckSpec } from './types.js';

/** Overrides shared by every built-in check. */
export interface CheckOverrides {
  /** The check's name. Default: per check (`store`, `migrations`, `scheduler`, `queue:<name>`, `resources`). */
  readonly name?: string;
  /** Time limit, ms. Default: the registry's. */
  readonly timeoutMs?: number;
  /** Whether a failure makes the system unhealthy (true) or degraded. Default true. */
  readonly critical?: boolean;
}

function spec(
  defaultName: string,
  o: CheckOverrides | undefined,
  check: HealthCheckSpec['check'],
): HealthCheckSpec {
  return {
    name: o?.name ?? defaultName,
    check,
    ...(o?.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
    ...(o?.critical === undefined ? {} : { critical: o.critical }),
  };
}

/** The store answers a trivial query. */
export function storeReachableCheck(store: Pick<Store, 'query'>, o?: CheckOverrides): HealthCheckSpec {
  return spec('store', o, async () => {
    await store.query('SELECT 1 AS ok');
  });
}

/**
 * The database holds exactly the migrations this code knows: pending migrations (the code is newer) and a
 * database newer than the code are both unhealthy, naming the versions.
 */
export function migrationsCurrentCheck(store: Pick<Store, 'status'>, o?: CheckOverrides): HealthCheckSpec {
  return spec('migrations', o, async () => {
    const s = await store.status();
    const details = { version: s.version, latest: s.latest, pending: s.pending };
    if (s.version > s.latest)
      return {
        status: 'unhealthy',
        reason: `the database is at migration ${s.version}, newer than this code (${s.latest})`,
        details,
      };
    if (s.pending.length > 0)
      return { status: 'unhealthy', reason: `migrations pending: ${s.pending.join(', ')}`, details };
    return { status: 'healthy', details };
  });
}

/** What the scheduler check needs to know of the scheduler. */
export interface SchedulerProbe {
  /** True while the scheduler fires timers. */
  isRunning(): boolean | Promise<boolean>;
}

/**
 * The scheduler is running: the node's `SchedulerManager` (its `status` is `running`: durable timers fire
 * on this node), or any probe.
 */
export function schedulerRunningCheck(
  scheduler: SchedulerProbe | Pick<SchedulerManager, 'status'>,
  o?: CheckOverrides,
): HealthCheckSpec {
  return spec('scheduler', o, async () => {
    if ('isRunning' in scheduler) {
      if (!(await scheduler.isRunning()))
        return { status: 'unhealthy', reason: 'the scheduler is not running' };
      return;
    }
    if (scheduler.status !== 'running')
      return { status: 'unhealthy', reason: `the scheduler is not running (${scheduler.status})` };
  });
}

/** A queue's progress counters. */
export interface QueueProgress {
  /** Tasks ready to run now (not delayed, not leased). */
  readonly ready: number;
  /** Tasks completed so far: any counter that only grows while work completes. */
  readonly completed: number;
}

export interface QueueProgressCheckOptions extends CheckOverrides {
  /** The queue's name (the check is `queue:<queue>` unless named). */
  readonly queue: string;
  /** Reads the queue's counters (e.g. from the store or a worker's counters). */
  readonly progress: () => QueueProgress | Promise<QueueProgress>;
  /** How long ready work may wait without a completion before the queue is unhealthy, ms. Default 60 000. */
  readonly stallAfterMs?: number;
  /** Time source. Default the system clock. */
  readonly clock?: Clock;
}

const queueSchema = z.object({
  queue: z.string().min(1).max(200),
  stallAfterMs: z.number().int().min(1).default(60_000),
});

/**
 * Progress-based: a queue with ready work whose completed count has not moved for `stallAfterMs` is
 * unhealthy — even when every worker process is alive (a worker stuck in a handler, a lost wake-up). A
 * queue with nothing ready is never stalled. The check remembers when the count last moved, so it is
 * meant to run periodically (a health sensor, `/readyz`); the first run takes the baseline.
 */
export function queueProgressCheck(options: QueueProgressCheckOptions): HealthCheckSpec {
  const parsed = queueSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid queue progress check: ${describeIssues(parsed.error.issues)}`);
  const { queue, stallAfterMs } = parsed.data;
  const clock = options.clock ?? systemClock;
  let lastCompleted: number | undefined;
  let lastProgressAt = 0;
  return spec(`queue:${queue}`, options, async () => {
    const p = await options.progress();
    const now = clock.now();
    // A count that moves either way is progress (a counter that restarted is not a stall).
    if (lastCompleted !== p.completed) {
      lastCompleted = p.completed;
      lastProgressAt = now;
    }
    if (p.ready <= 0) lastProgressAt = now;
    const stalledMs = now - lastProgressAt;
    const details = { ready: p.ready, completed: p.completed, stalledMs };
    if (stalledMs >= stallAfterMs)
      return {
        status: 'unhealthy',
        reason: `queue ${queue} is stalled: ${p.ready} ready, no completion for ${stalledMs} ms`,
        details,
      };
    return { status: 'healthy', details };
  });
}

/**
 * The node's resources: degraded while any kind is at or above its alert threshold, unhealthy when a
 * measured kind (memory, processes, mailboxes) is past its limit.
 */
export function resourcesCheck(resources: ResourceManager, o?: CheckOverrides): HealthCheckSpec {
  return spec('resources', o, () => {
    const usage = resources.usageAll();
    const over = usage.filter((u) => u.current > u.limit);
    const alerting = usage.filter((u) => u.alerting);
    const details = Object.fromEntries(usage.map((u) => [u.kind, { current: u.current, limit: u.limit }]));
    const line = (u: (typeof usage)[number]) =>
      `${u.kind} at ${Math.round(u.ratio * 100)}% (${u.current} of ${u.limit})`;
    if (over.length > 0)
      return { status: 'unhealthy', reason: `over the limit: ${over.map(line).join(', ')}`, details };
    if (alerting.length > 0)
      return { status: 'degraded', reason: `near the limit: ${alerting.map(line).join(', ')}`, details };
    return { status: 'healthy', details };
  });
}
