/**
 * A schedule's timer firing: it queues the schedule's action on the agent's queue, in one transaction
 * with the agent's row, wherever the agent runs — the consumer of the node that runs it takes it from
 * there. A firing retried after a crash queues nothing twice (the idempotency key is the schedule and
 * its due time). While the agent is paused, or not running, a firing is skipped, as are firings that
 * find its queue full; the schedule carries on.
 */
import type { Store } from '../store/index.js';
import type { DurableTimers, TimerFiring } from '../scheduler/index.js';
import { enqueueForAgent } from './enqueue.js';
import { isAgentError, AgentErrorCode } from './errors.js';
import type { HostCore } from './host-core.js';
import { selectRow } from './rows.js';
import { SCHEDULE_TOPIC, schedulePayloadSchema } from './schedules.js';

/** True for a task a schedule queued. */
export function isScheduledRun(payload: unknown): boolean {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as { schedule?: unknown }).schedule === 'string'
  );
}

/**
 * Queues the run of one firing: a task that runs once (its failure is its outcome, recorded on the
 * agent) — unless, in the same transaction, the agent is found paused or not running, or the schedule's
 * timer no longer active (paused or removed since the firing was claimed).
 */
async function queueScheduledRun(
  store: Store,
  timers: DurableTimers,
  core: Pick<HostCore, 'queues' | 'maxAttempts'>,
  run: { timerId: string; agentId: string; name: string; action: string; input: unknown; key: string },
): Promise<number | undefined> {
  return store.transaction(async (tx) => {
    const row = await selectRow(tx, run.agentId, true);
    if (row === undefined || row.lifecycle !== 'running' || row.status === 'paused') return undefined;
    if ((await timers.get(run.timerId, tx))?.topic !== SCHEDULE_TOPIC) return undefined;
    try {
      const task = await enqueueForAgent(
        tx,
        core,
        run.agentId,
        { action: run.action, input: run.input, schedule: run.name },
        { idempotencyKey: run.key, maxAttempts: 1 },
      );
      return task.id;
    } catch (error) {
      // A full queue skips this run, as a busy agent would have: the next due time comes anyway.
      if (isAgentError(error, AgentErrorCode.queueFull)) return undefined;
      throw error;
    }
  });
}

/** The handler each `DurableTimers` runs for agents' schedules: the host made last on it. */
const handlers = new WeakMap<DurableTimers, { current: (firing: TimerFiring) => Promise<void> }>();

/**
 * Has `timers` fire agents' schedules through `core` (one handler per timers object: a host made again
 * after a restart of its part replaces the one before).
 */
export function handleScheduleFirings(timers: DurableTimers, store: Store, core: HostCore): void {
  const fire = async (firing: TimerFiring): Promise<void> => {
    const p = schedulePayloadSchema.safeParse(firing.payload);
    if (!p.success) return; // not a schedule's payload: nothing to run
    const { agentId, name, action, input } = p.data;
    await queueScheduledRun(store, timers, core, {
      timerId: firing.id,
      agentId,
      name,
      action,
      input,
      key: `schedule:${name}:${firing.dueAt}`,
    });
  };
  const slot = handlers.get(timers);
  if (slot !== undefined) {
    slot.current = fire;
    return;
  }
  const created = { current: fire };
  handlers.set(timers, created);
  timers.on(SCHEDULE_TOPIC, (firing) => created.current(firing));
}
