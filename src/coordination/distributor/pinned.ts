/**
 * Pinned steps: the parts of a fan-out (`ctx.dispatchAll`), each for one named agent. Such a step is
 * never routed elsewhere: when its agent is not healthy at the hand-off, or is gone or unhealthy before it
 * answers, the step fails with `agent_unavailable` — the fan-out counts that agent as absent — and its
 * task is cancelled. The failure is journaled before the task is cancelled, so a crash in between leaves
 * a stranded task that the next sweep finds again (the journal takes one answer; the cancel is retried).
 */
import type { Store } from '../../store/index.js';
import {
  WorkflowError,
  WorkflowErrorCode,
  type DispatchResults,
  type QueueClient,
} from '../../work/index.js';
import { lockLive } from './handoff.js';
import type { FoundTask } from './sweep-reads.js';

/** The failure of a pinned step whose agent cannot answer. */
export function agentUnavailable(agentId: string, capability: string, why: string): WorkflowError {
  return new WorkflowError(
    WorkflowErrorCode.agentUnavailable,
    `agent ${agentId} (capability "${capability}") ${why}; its part of the fan-out is not moved to another`,
    { details: { agentId, capability } },
  );
}

/** Fails a pinned step found stranded on its agent's queue, then cancels its task. True when cancelled here. */
export async function failStranded(
  store: Store,
  queues: QueueClient,
  results: DispatchResults,
  found: FoundTask,
): Promise<boolean> {
  const d = found.task.dispatch;
  await results.failDispatched(
    d.workflowId,
    d.stepIndex,
    agentUnavailable(d.agentId, d.capability, 'is gone or unhealthy'),
  );
  return store.transaction(async (tx) => {
    if (!(await lockLive(tx, found.id))) return false;
    await queues.cancel(found.id, { tx });
    return true;
  });
}

/** Cancels a pinned step's task while it is still queued on its agent (the fan-out no longer needs it). */
export async function withdrawQueued(
  store: Store,
  queues: QueueClient,
  queue: string,
  key: string,
): Promise<void> {
  await store.transaction(async (tx) => {
    const rows = await tx.query<{ id: number | string }>(
      "SELECT id FROM garrison_tasks WHERE queue = $1 AND idempotency_key = $2 AND state = 'queued'",
      [queue, key],
    );
    for (const row of rows)
      if (await lockLive(tx, Number(row.id))) await queues.cancel(Number(row.id), { tx });
  });
}
