/**
 * `ctx.dispatchAll`: a fan-out. One journaled step reads the participants (the healthy agents with the
 * capability, from the dispatcher) so that a replay sees the same set; then one dispatched step pinned to
 * each participant, at indices reserved when the fan-out is called (`maxParticipants` of them, taken
 * synchronously, so steps called beside it are numbered the same on every replay). The result is read
 * from the parts' journal entries once every part has ended — answered, failed, or cancelled after the
 * quorum — so a replay gathers exactly what the first execution did.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { dispatchAt, dispatchTarget, handOffOf, type DispatchSettled } from './dispatch-step.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { RunExecution } from './execution.js';
import { journaledStep } from './steps.js';
import type { DispatchAllResult, WorkflowErrorInfo } from './types.js';

/** Participants of a fan-out by default, and at most. */
export const DEFAULT_PARTICIPANTS = 32;
export const MAX_PARTICIPANTS = 256;

const fanOutSchema = z.object({
  quorum: z.number().int().min(1).max(MAX_PARTICIPANTS).optional(),
  maxParticipants: z.number().int().min(1).max(MAX_PARTICIPANTS).optional(),
});

/** `ctx.dispatchAll(action, input, options)`. */
export function dispatchAll(
  run: RunExecution,
  target: unknown,
  input: unknown,
  options: unknown,
): Promise<Array<DispatchAllResult<unknown>>> {
  const { quorum, maxParticipants, ...dispatchOptions } = (options ?? {}) as Record<string, unknown>;
  const fanOut = fanOutSchema.safeParse({ quorum, maxParticipants });
  if (!fanOut.success)
    throw new ValidationError(`invalid ctx.dispatchAll options: ${describeIssues(fanOut.error.issues)}`);
  const max = fanOut.data.maxParticipants ?? DEFAULT_PARTICIPANTS;
  const want = fanOut.data.quorum;
  if (want !== undefined && want > max)
    throw new ValidationError(`ctx.dispatchAll quorum ${want} is above maxParticipants ${max}`);
  const { capability, action, options: checked } = dispatchTarget(target, dispatchOptions);
  (target as { parseInput(i: unknown): unknown }).parseInput(input);
  const name = `${capability}.${action}`;
  const participants = journaledStep<string[]>(run, `${name}:participants`, 'step', undefined, async () => {
    const dispatcher = run.host.dispatcher;
    if (dispatcher?.participants === undefined)
      throw new WorkflowError(
        WorkflowErrorCode.noDispatcher,
        `workflow ${run.id} fanned out ${name}, but its dispatcher cannot name participants`,
      );
    const ids = [...new Set(await dispatcher.participants(capability))];
    return ids.sort().slice(0, max);
  });
  // Reserved now, in call order: the parts' indices do not depend on when the participants are known.
  const base = run.nextIdx;
  run.nextIdx += max;
  return gather(run, participants, base, { name, capability, action, input, checked, quorum: want });
}

interface FanOut {
  readonly name: string;
  readonly capability: string;
  readonly action: string;
  readonly input: unknown;
  readonly checked: ReturnType<typeof dispatchTarget>['options'];
  readonly quorum: number | undefined;
}

async function gather(
  run: RunExecution,
  participantsStep: Promise<string[]>,
  base: number,
  f: FanOut,
): Promise<Array<DispatchAllResult<unknown>>> {
  const agents = await participantsStep;
  if (agents.length === 0 && f.quorum === undefined)
    throw new WorkflowError(
      WorkflowErrorCode.noCapableAgent,
      `fan-out ${f.name}: no healthy agent has the capability "${f.capability}"`,
      { details: { capability: f.capability, action: f.action } },
    );
  if (f.quorum !== undefined && agents.length < f.quorum) throw quorumNotMet(f, agents, []);
  const settled: Array<DispatchSettled | undefined> = agents.map(() => undefined);
  const parts = agents.map((agent, i) =>
    dispatchAt(run, base + i, `${f.name}@${agent}`, f.capability, f.action, f.input, {
      ...f.checked,
      agentId: agent,
    }).then((done) => {
      settled[i] = done;
      return done;
    }),
  );
  await decided(parts, settled, f.quorum);
  const open = agents.flatMap((agent, i) => (settled[i] === undefined ? [i] : []));
  if (open.length > 0) {
    // Quorum reached, or out of reach: the others are not waited for. A part answered meanwhile keeps
    // its answer (the journal takes one), and the result below is read from what the journal holds.
    const error = new WorkflowError(
      WorkflowErrorCode.dispatchCancelled,
      `fan-out ${f.name}: not needed any more (quorum ${f.quorum} decided)`,
    );
    for (const i of open) await run.host.results.failDispatched(run.id, base + i, error);
  }
  const ended = await Promise.all(parts);
  // Every part's hand-off has committed now (a run is never parked with one in flight). What of a
  // cancelled part still waits on its agent's queue is withdrawn — on every execution, since one that
  // cancelled and was then parked or halted before withdrawing leaves it to its replay.
  for (const [i, done] of ended.entries())
    if (done.status === 'failed' && done.error.code === WorkflowErrorCode.dispatchCancelled)
      await run.host.dispatcher?.withdraw?.(
        handOffOf(run, base + i, f.capability, f.action, f.input, { ...f.checked, agentId: agents[i] }),
      );
  const results = agents.map((agent, i): DispatchAllResult<unknown> => {
    const done = ended[i]!;
    return done.status === 'completed'
      ? { agent, ok: true, value: done.output }
      : { agent, ok: false, error: done.error };
  });
  if (f.quorum !== undefined && results.filter((r) => r.ok).length < f.quorum)
    throw quorumNotMet(f, agents, results);
  return results;
}

/** Resolves once every part ended, or (with a quorum) once the quorum is reached or out of reach. */
function decided(
  parts: ReadonlyArray<Promise<DispatchSettled>>,
  settled: ReadonlyArray<DispatchSettled | undefined>,
  quorum: number | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = () => {
      const ended = settled.filter((s) => s !== undefined);
      const ok = ended.filter((s) => s.status === 'completed').length;
      const open = settled.length - ended.length;
      if (open === 0) resolve();
      else if (quorum !== undefined && (ok >= quorum || ok + open < quorum)) resolve();
    };
    for (const p of parts) p.then(check, reject);
    check();
  });
}

function quorumNotMet(
  f: FanOut,
  agents: readonly string[],
  results: ReadonlyArray<DispatchAllResult<unknown>>,
): WorkflowError {
  const failures: Record<string, WorkflowErrorInfo> = Object.create(null) as Record<
    string,
    WorkflowErrorInfo
  >;
  for (const r of results) if (!r.ok) failures[r.agent] = r.error;
  const ok = results.filter((r) => r.ok).length;
  return new WorkflowError(
    WorkflowErrorCode.quorumNotMet,
    `fan-out ${f.name}: ${ok} of ${agents.length} participants answered, ${f.quorum} needed`,
    {
      details: {
        capability: f.capability,
        action: f.action,
        quorum: f.quorum,
        participants: agents,
        ok,
        failures,
      },
    },
  );
}
