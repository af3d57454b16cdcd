/**
 * The three broadcasts. Each is defined by what a target can observe:
 *
 * - best effort: each target is called once, concurrently; a target that fails is not retried.
 * - all or nothing: a two-phase protocol (see `two-phase.ts`); no target applies the message unless
 *   every target voted yes to it first.
 * - at least once: one durable row per target, all committed in one transaction, each delivered to its
 *   process by the process's relay until the process acknowledges it (or it is dead-lettered).
 */
import { randomUUID } from 'node:crypto';
import { GarrisonError, isGarrisonError } from '../../errors.js';
import { isRuntimeError, type Pid, type ProcessRef, type Runtime } from '../../runtime/index.js';
import type { DurableDelivery } from '../delivery/durable-delivery.js';
import { SupervisedErrorCode, SupervisedSendError } from './errors.js';
import type {
  AllOrNothingResult,
  AtLeastOnceOptions,
  AtLeastOnceResult,
  BestEffortResult,
  ParticipantOutcome,
  PhaseOutcome,
  TargetOutcome,
} from './options.js';
import { processMailbox } from './policies.js';
import {
  isPrepareVote,
  TWO_PHASE_ABORT,
  TWO_PHASE_COMMIT,
  TWO_PHASE_PREPARE,
  type AbortReply,
  type CommitReply,
  type TwoPhaseMessage,
} from './two-phase.js';

/** Anything thrown, as a Garrison error (the runtime only throws those; this guards the type). */
export function asGarrisonError(error: unknown): GarrisonError {
  if (isGarrisonError(error)) return error;
  return new GarrisonError('send_failed', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

const FAILED = (error: unknown): PhaseOutcome => ({ ok: false, error: asGarrisonError(error) });
const OK: PhaseOutcome = { ok: true };

export async function bestEffort<R>(
  runtime: Runtime,
  targets: readonly ProcessRef[],
  message: unknown,
  timeoutMs: number | undefined,
): Promise<BestEffortResult<R>> {
  const outcomes = await Promise.all(
    targets.map(async (target): Promise<TargetOutcome<R>> => {
      try {
        return { target, ok: true, reply: await runtime.call<R>(target, message, { timeoutMs }) };
      } catch (error) {
        return { target, ok: false, error: asGarrisonError(error) };
      }
    }),
  );
  return { semantics: 'best_effort', ok: outcomes.every((o) => o.ok), outcomes };
}

interface Participant {
  readonly target: ProcessRef;
  readonly pid: Pid | undefined;
  prepare: PhaseOutcome | undefined;
  commit?: PhaseOutcome;
  abort?: Promise<PhaseOutcome>;
  /** Gone (no process, or it exited mid-prepare): nothing of it is left to abort. */
  gone: boolean;
}

/**
 * Two-phase prepare/commit. Every target is sent `prepare` at once (each name resolved to its pid once,
 * so all three phases reach the same process). The first failed prepare — a `no` vote, no such process,
 * a crash, a timeout, a reply that is not a vote — decides `aborted`: every target still alive is sent
 * `abort` (a target whose prepare is still pending gets it after that prepare, its mailbox being in
 * order), and no `commit` is ever sent. Only when every target voted yes is `commit` sent to each.
 *
 * What it cannot promise, and reports instead: a target that dies between its yes and its commit loses
 * what it prepared (it was in memory); its commit outcome says so, the others still apply the message.
 */
export async function allOrNothing(
  runtime: Runtime,
  targets: readonly ProcessRef[],
  message: unknown,
  timeoutMs: number | undefined,
): Promise<AllOrNothingResult> {
  const txid = randomUUID();
  const call = <T>(p: Participant, msg: TwoPhaseMessage) =>
    runtime.call<T>(p.pid ?? p.target, msg, { timeoutMs });
  const participants: Participant[] = targets.map((target) => ({
    target,
    pid: typeof target === 'string' ? runtime.whereis(target) : target,
    prepare: undefined,
    gone: false,
  }));

  let aborted = false;
  const sendAbort = (p: Participant) => {
    if (p.gone || p.abort !== undefined) return;
    p.abort = call<AbortReply>(p, { type: TWO_PHASE_ABORT, txid }).then(
      (reply) =>
        typeof reply === 'object' && reply !== null && typeof reply.aborted === 'boolean'
          ? OK
          : FAILED(violation(p.target, 'abort', reply)),
      FAILED,
    );
  };
  const decideAbort = () => {
    if (aborted) return;
    aborted = true;
    // Targets whose prepare is still pending are told when it settles (below), after their prepare.
    for (const p of participants) if (p.prepare !== undefined) sendAbort(p);
  };

  await Promise.all(
    participants.map(async (p) => {
      let outcome: PhaseOutcome;
      try {
        const vote = await call(p, { type: TWO_PHASE_PREPARE, txid, message });
        if (!isPrepareVote(vote)) outcome = FAILED(violation(p.target, 'prepare', vote));
        else if (vote.vote === 'no') outcome = FAILED(refused(p.target, vote.reason));
        else outcome = OK;
      } catch (error) {
        outcome = FAILED(error);
        p.gone = isRuntimeError(error, 'noproc') || isRuntimeError(error, 'process_exited');
      }
      p.prepare = outcome;
      if (!outcome.ok) decideAbort();
      if (aborted) sendAbort(p);
    }),
  );

  if (!aborted) {
    await Promise.all(
      participants.map(async (p) => {
        try {
          const reply = await call<CommitReply>(p, { type: TWO_PHASE_COMMIT, txid });
          if (typeof reply !== 'object' || reply === null || typeof reply.applied !== 'boolean')
            p.commit = FAILED(violation(p.target, 'commit', reply));
          else if (!reply.applied)
            p.commit = FAILED(
              new SupervisedSendError(
                SupervisedErrorCode.commitRefused,
                `${String(p.target)} had nothing prepared for transaction ${txid} (it restarted since its yes)`,
                { details: { target: String(p.target), txid } },
              ),
            );
          else p.commit = OK;
        } catch (error) {
          p.commit = FAILED(error);
        }
      }),
    );
  }

  const outcomes: ParticipantOutcome[] = [];
  for (const p of participants) {
    const abort = p.abort === undefined ? undefined : await p.abort;
    outcomes.push({
      target: p.target,
      pid: p.pid,
      prepare: p.prepare ?? OK,
      ...(p.commit === undefined ? {} : { commit: p.commit }),
      ...(abort === undefined ? {} : { abort }),
    });
  }
  return {
    semantics: 'all_or_nothing',
    decision: aborted ? 'aborted' : 'committed',
    ok: !aborted && outcomes.every((o) => o.commit?.ok === true),
    txid,
    outcomes,
  };
}

/**
 * Stores one copy per target (as `process:<name>`) in one transaction: every target's copy is committed
 * or none is, before this resolves. Each copy is then delivered by that name's relay, at least once.
 */
export async function atLeastOnce(
  delivery: DurableDelivery,
  targets: readonly string[],
  message: unknown,
  options: AtLeastOnceOptions,
): Promise<AtLeastOnceResult> {
  const receipts = await delivery.sendMany(
    targets.map((t) => processMailbox(t)),
    message,
    {
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
      ...(options.from === undefined ? {} : { from: options.from }),
    },
  );
  return {
    semantics: 'at_least_once',
    ok: true,
    messages: targets.map((target, i) => ({
      target,
      messageId: receipts[i]?.id ?? 0,
      duplicate: receipts[i]?.duplicate ?? false,
    })),
  };
}

function violation(target: ProcessRef, phase: string, reply: unknown): SupervisedSendError {
  let shown: string;
  try {
    shown = JSON.stringify(reply) ?? String(reply);
  } catch {
    shown = String(reply);
  }
  return new SupervisedSendError(
    SupervisedErrorCode.protocolViolation,
    `${String(target)} answered the ${phase} of an all-or-nothing broadcast with ${shown}`,
    { details: { target: String(target), phase } },
  );
}

function refused(target: ProcessRef, reason: string): SupervisedSendError {
  return new SupervisedSendError(
    SupervisedErrorCode.prepareRefused,
    `${String(target)} refused the message: ${reason}`,
    { details: { target: String(target), reason } },
  );
}
