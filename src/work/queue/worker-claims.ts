/** How a worker claims from its queues: plain queues in one statement, limited ones one by one. */
import type { Store } from '../../store/index.js';
import { claimTasks } from './claim.js';
import { claimLimited } from './claim-limited.js';
import type { CompletionBatcher } from './completion-batcher.js';
import type { QueueDefinition } from './definition.js';
import { toCompletion, type Held } from './held.js';
import type { ClaimRow } from './rows.js';
import { completeTasks } from './settle.js';
import { TaskState } from './types.js';

export interface WorkerQueues {
  /** Queues without limits, claimed together. */
  readonly plain: readonly string[];
  readonly limited: readonly QueueDefinition[];
}

/** A shorter re-check when tasks look due but could not be claimed (locked by a concurrent claim). */
const RECHECK_MS = 25;

/**
 * Claims up to `limit` tasks. On SQLite (one writer) the completions waiting in `completions` ride along
 * in the claim's transaction, so one commit pays for both.
 */
export async function claimForWorker(
  store: Store,
  queues: WorkerQueues,
  lease: { readonly now: number; readonly leaseUntil: number; readonly workerId: string },
  limit: number,
  completions: CompletionBatcher<Held>,
): Promise<ClaimRow[]> {
  if (queues.limited.length === 0 && store.dialect === 'sqlite') {
    const riding = completions.take();
    let accepted: Set<number> | undefined;
    try {
      const rows = await store.write(async (tx) => {
        if (riding !== undefined) {
          accepted = await completeTasks(store, riding.items.map(toCompletion), lease.now, tx);
        }
        return claimTasks(store, { ...lease, queues: queues.plain, limit }, tx);
      });
      riding?.committed(accepted ?? new Set());
      return rows;
    } catch (error) {
      riding?.failed(error);
      throw error;
    }
  }
  let rows: ClaimRow[] = [];
  let leased = 0;
  if (queues.plain.length > 0) {
    rows = await claimTasks(store, { ...lease, queues: queues.plain, limit });
    for (const r of rows) if (r.state === TaskState.running) leased++;
  }
  for (const def of queues.limited) {
    if (leased >= limit) break;
    const more = await claimLimited(store, def, { ...lease, queues: [def.name], limit: limit - leased });
    for (const r of more) {
      rows.push(r);
      if (r.state === TaskState.running) leased++;
    }
  }
  return rows;
}

/** How soon an idle worker looks again when tasks are due but none could be claimed, in ms. */
export function recheckMs(limited: readonly QueueDefinition[], pollIntervalMs: number): number {
  let ms = RECHECK_MS;
  for (const def of limited) {
    // A limited queue frees up when a task settles (which wakes its workers) or when a token refills.
    const refill = [def.rateLimit, def.groupRateLimit]
      .filter((r) => r !== undefined)
      .map((r) => Math.ceil(r.intervalMs / r.limit));
    ms = Math.max(ms, refill.length > 0 ? Math.min(...refill) : pollIntervalMs);
  }
  return Math.min(ms, pollIntervalMs);
}
