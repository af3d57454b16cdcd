/**
 * The wake-up channels of workflows, shared by the engine and by processes that only write to the store
 * (a client): a wake-up is a hint to look at the store, never the only way work is found.
 */

/** Wake-ups about known runs: `{ k: 'wake' | 'done', ids }` (a signal, control or result for them). */
export const WORKFLOWS_CHANNEL = 'garrison_workflows';

/**
 * Runs became `pending` with nobody executing them (started, resumed, or cancelled while paused): nodes
 * that take runs over look for claimable runs. The payload is ignored.
 */
export const PENDING_CHANNEL = 'garrison_workflows_pending';

/** The payload of a wake-up on `WORKFLOWS_CHANNEL`; `e` tells an engine its own notifications apart. */
export function wakePayload(kind: 'wake' | 'done', ids: readonly string[], sender = ''): string {
  return JSON.stringify({ e: sender, k: kind, ids });
}
