/**
 * Retention: what is finished is deleted once it is older than the node's `retention` settings —
 * finished workflow runs (with their journals and signals), finished tasks (kept completed tasks, tasks
 * kept for their idempotency key, dispatch bookkeeping), and dead letters of queues and of durable
 * messages. A durable cron timer (`garrison:retention`, one firing per due time in the whole cluster)
 * runs it; each owner deletes in small batches, one short transaction each, so writers never wait for
 * more than one batch. A setting of 0 keeps that kind forever. Nothing of value is lost by a firing
 * that does not happen: the next one deletes what is due.
 */
import { z } from 'zod';
import { purgeDeadLetterBatch } from '../messaging/index.js';
import { nextCronTime, type DurableTimers } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { purgeFinishedRuns, purgeTaskBatch } from '../work/index.js';

const DAY_MS = 86_400_000;

function validCron(pattern: string): boolean {
  try {
    return nextCronTime(pattern, 0) !== null;
  } catch {
    return false;
  }
}
const keep = z
  .number()
  .int()
  .min(0)
  .max(3650 * DAY_MS);

export const retentionSchema = z.strictObject({
  /** Finished runs (completed, failed, cancelled), in ms after they finished. Default 7 days; 0 forever. */
  runsMs: keep.default(7 * DAY_MS),
  /** Finished tasks (completed, cancelled), in ms after they finished. Default 7 days; 0 forever. */
  tasksMs: keep.default(7 * DAY_MS),
  /** Dead letters (dead tasks, dead messages), in ms after they died. Default 7 days; 0 forever. */
  deadLettersMs: keep.default(7 * DAY_MS),
  /** Rows deleted per transaction. Default 500. */
  batchSize: z.number().int().min(1).max(10_000).default(500),
  /** When the purge runs (a cron expression, in UTC). Default every 10 minutes. */
  cron: z.string().min(1).max(200).refine(validCron, 'not a cron expression').default('*/10 * * * *'),
});

export type RetentionSettings = z.output<typeof retentionSchema>;

/** The durable timer that runs the purge. */
export const RETENTION_TIMER = 'garrison:retention';
/** Batches of one kind deleted by one firing at most; what is left goes at the next one. */
const MAX_BATCHES = 200;

/** What one purge deleted. */
export interface RetentionReport {
  readonly runs: number;
  readonly tasks: number;
  readonly deadTasks: number;
  readonly deadMessages: number;
}

/** Deletes batch after batch until one comes back short (nothing that old is left) or the cap. */
async function drain(batch: () => Promise<number>, size: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await batch();
    total += n;
    if (n < size) break;
  }
  return total;
}

/** Deletes what `settings` no longer keeps at time `now`. */
export async function purgeExpired(
  store: Store,
  settings: RetentionSettings,
  now: number,
): Promise<RetentionReport> {
  const size = settings.batchSize;
  const before = (ms: number) => now - ms;
  const runs =
    settings.runsMs === 0
      ? 0
      : await drain(
          () => purgeFinishedRuns(store, { finishedBefore: before(settings.runsMs), limit: size }),
          size,
        );
  const tasks =
    settings.tasksMs === 0
      ? 0
      : await drain(
          () =>
            purgeTaskBatch(
              store,
              { states: ['completed', 'cancelled'], finishedBefore: before(settings.tasksMs) },
              size,
            ),
          size,
        );
  const dead = settings.deadLettersMs === 0 ? undefined : before(settings.deadLettersMs);
  const deadTasks =
    dead === undefined
      ? 0
      : await drain(() => purgeTaskBatch(store, { states: ['dead'], finishedBefore: dead }, size), size);
  const deadMessages =
    dead === undefined ? 0 : await drain(() => purgeDeadLetterBatch(store, dead, size), size);
  return { runs, tasks, deadTasks, deadMessages };
}

/**
 * Registers the purge on the node's durable timers and makes sure its cron timer exists (rewritten only
 * when the schedule changed: a rewrite would reset a firing another node holds).
 */
export async function startRetention(
  store: Store,
  timers: DurableTimers,
  settings: RetentionSettings,
  onPurged: (report: RetentionReport) => void,
): Promise<void> {
  timers.on(RETENTION_TIMER, async (firing) => {
    onPurged(await purgeExpired(store, settings, firing.dueAt));
  });
  const current = await timers.get(RETENTION_TIMER);
  if (current?.cron === settings.cron && current.topic === RETENTION_TIMER && current.missedPolicy === 'skip')
    return;
  await timers.schedule({
    id: RETENTION_TIMER,
    topic: RETENTION_TIMER,
    cron: settings.cron,
    missedPolicy: 'skip',
  });
}
