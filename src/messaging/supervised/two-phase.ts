/**
 * The all-or-nothing broadcast protocol, as the target processes see it. Three calls, each answered
 * at once by the process's `handleCall`:
 *
 * 1. `prepare` — check that the message can be applied and keep it aside, **without applying it**;
 *    reply `{ vote: 'yes' }` or `{ vote: 'no', reason }`.
 * 2. `commit` — apply the message kept aside under that transaction id; reply `{ applied: true }`
 *    (or `{ applied: false }` when nothing was kept under that id: the process restarted since).
 * 3. `abort` — forget the message kept aside; reply `{ aborted: true }` (`false` when there was none).
 *
 * `handleTwoPhase` does all of this for a behaviour: it keeps prepared messages per process (in memory,
 * so they vanish with the process, as everything else in an in-memory process does).
 */
import type { CallResult, Pid, ProcessContext } from '../../runtime/index.js';

export const TWO_PHASE_PREPARE = 'garrison.2pc.prepare';
export const TWO_PHASE_COMMIT = 'garrison.2pc.commit';
export const TWO_PHASE_ABORT = 'garrison.2pc.abort';

/** The calls of the all-or-nothing protocol. `txid` is unique per broadcast. */
export type TwoPhaseMessage<M = unknown> =
  | { readonly type: typeof TWO_PHASE_PREPARE; readonly txid: string; readonly message: M }
  | { readonly type: typeof TWO_PHASE_COMMIT; readonly txid: string }
  | { readonly type: typeof TWO_PHASE_ABORT; readonly txid: string };

/** The reply to a prepare. */
export type PrepareVote = { readonly vote: 'yes' } | { readonly vote: 'no'; readonly reason: string };
/** The reply to a commit. */
export interface CommitReply {
  readonly applied: boolean;
}
/** The reply to an abort. */
export interface AbortReply {
  readonly aborted: boolean;
}

const TYPES: ReadonlySet<unknown> = new Set([TWO_PHASE_PREPARE, TWO_PHASE_COMMIT, TWO_PHASE_ABORT]);

/** True when a call message belongs to the all-or-nothing protocol. */
export function isTwoPhaseMessage(msg: unknown): msg is TwoPhaseMessage {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { type?: unknown; txid?: unknown };
  return TYPES.has(m.type) && typeof m.txid === 'string';
}

export function isPrepareVote(reply: unknown): reply is PrepareVote {
  if (typeof reply !== 'object' || reply === null) return false;
  const r = reply as { vote?: unknown; reason?: unknown };
  return r.vote === 'yes' || (r.vote === 'no' && typeof r.reason === 'string');
}

/** How a process takes part in all-or-nothing broadcasts. */
export interface TwoPhaseParticipant<S, M> {
  /**
   * Decides whether `message` can be applied to `state`, without applying it. Return `undefined` to
   * vote yes, or a reason to vote no. A throw crashes the process (like any handler), which the
   * broadcaster counts as a failed prepare.
   */
  prepare(message: M, state: S): string | undefined | Promise<string | undefined>;
  /** Applies a message this process voted yes to; returns the new state. */
  commit(message: M, state: S): S | Promise<S>;
}

// Messages prepared and neither committed nor aborted, per process. Keyed by the pid object, so they go
// with the process: a restarted process has a new pid and nothing prepared.
const staged = new WeakMap<Pid, Map<string, unknown>>();

function stagedOf(self: Pid): Map<string, unknown> {
  let map = staged.get(self);
  if (map === undefined) {
    map = new Map();
    staged.set(self, map);
  }
  return map;
}

/**
 * Answers a protocol call for a behaviour's `handleCall`. Returns undefined for any other message, so
 * a handler starts with `const r = await handleTwoPhase(msg, state, ctx, participant); if (r) return r;`.
 */
export async function handleTwoPhase<S, M>(
  msg: unknown,
  state: S,
  ctx: Pick<ProcessContext, 'self'>,
  participant: TwoPhaseParticipant<S, M>,
): Promise<CallResult<S> | undefined> {
  if (!isTwoPhaseMessage(msg)) return undefined;
  const prepared = stagedOf(ctx.self);
  switch (msg.type) {
    case TWO_PHASE_PREPARE: {
      const refusal = await participant.prepare(msg.message as M, state);
      if (refusal !== undefined)
        return { reply: { vote: 'no', reason: refusal } satisfies PrepareVote, state };
      prepared.set(msg.txid, msg.message);
      return { reply: { vote: 'yes' } satisfies PrepareVote, state };
    }
    case TWO_PHASE_COMMIT: {
      if (!prepared.has(msg.txid)) return { reply: { applied: false } satisfies CommitReply, state };
      const message = prepared.get(msg.txid) as M;
      prepared.delete(msg.txid);
      const next = await participant.commit(message, state);
      return { reply: { applied: true } satisfies CommitReply, state: next };
    }
    case TWO_PHASE_ABORT:
      return { reply: { aborted: prepared.delete(msg.txid) } satisfies AbortReply, state };
  }
}

/** How many messages `pid` has prepared and not yet committed or aborted (for tests and introspection). */
export function preparedCount(pid: Pid): number {
  return staged.get(pid)?.size ?? 0;
}
