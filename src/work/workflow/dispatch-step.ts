/**
 * `ctx.dispatch`: a step performed elsewhere, handed off once its pending entry is durable. Its timeout
 * is the entry's `due_at` (and the run's `wake_at`), so it survives restarts like a durable sleep.
 */
import { describeIssues, ValidationError } from '../../errors.js';
import { z } from 'zod';
import { parseDetail } from './dispatch-notes.js';
import type { DispatchRequest } from './dispatcher.js';
import { Attr, SpanName, traceWait } from '../../telemetry/index.js';
import { errorInfo, WorkflowError, WorkflowErrorCode } from './errors.js';
import { never, type RunExecution, type WaitResult } from './execution.js';
import { checkName, UNKNOWN_ERROR } from './names.js';
import { readEntries } from './runs.js';
import type { DispatchOptions, WorkflowErrorInfo } from './types.js';

/** The options a dispatch keeps (checked). */
export interface CheckedDispatchOptions {
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  readonly requires?: Readonly<Record<string, number>>;
  /** Pinned to this agent (a fan-out's part): it fails with `agent_unavailable` rather than move. */
  readonly agentId?: string;
}

/** How a dispatched step ended, as journaled. */
export type DispatchSettled =
  | { readonly status: 'completed'; readonly output: unknown }
  | { readonly status: 'failed'; readonly error: WorkflowErrorInfo };

const optionsSchema = z.strictObject({
  capability: z.string().min(1).max(200).optional(),
  timeoutMs: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .optional(),
  retry: z.strictObject({ maxAttempts: z.number().int().min(1).max(1000).optional() }).optional(),
  requires: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a resource name is [A-Za-z_][A-Za-z0-9_-]*'),
      z.number().positive().finite(),
    )
    .optional(),
});

/** The capability, action name and options of a typed `ctx.dispatch(action, input, options)`. */
export function dispatchTarget(
  target: unknown,
  options: unknown,
): { capability: string; action: string; options: CheckedDispatchOptions } {
  const t = target as { name?: unknown; capability?: unknown; parseInput?: unknown } | null;
  if (t === null || typeof t !== 'object' || typeof t.parseInput !== 'function')
    throw new ValidationError('ctx.dispatch needs an action (agent.action(name), or a defineAction value)');
  const parsed = optionsSchema.safeParse(options ?? {});
  if (!parsed.success)
    throw new ValidationError(`invalid ctx.dispatch options: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data as DispatchOptions;
  const capability = o.capability ?? t.capability;
  const action = checkName(t.name, 'ctx.dispatch');
  if (capability === undefined)
    throw new ValidationError(
      `ctx.dispatch of action "${action}" needs a capability: give options.capability, or dispatch agent.action("${action}")`,
    );
  return {
    capability: checkName(capability, 'ctx.dispatch'),
    action,
    options: { timeoutMs: o.timeoutMs, maxAttempts: o.retry?.maxAttempts, requires: o.requires },
  };
}

export async function dispatch(
  run: RunExecution,
  capability: string,
  action: string,
  input: unknown,
  options: CheckedDispatchOptions,
): Promise<unknown> {
  const idx = run.nextIdx++;
  const name = `${capability}.${action}`;
  const done = await dispatchAt(run, idx, name, capability, action, input, options);
  if (done.status === 'completed') return done.output;
  throw dispatchFailed(name, idx, done.error);
}

/** The request a dispatched step hands off (the same on every hand-off of it). */
export function handOffOf(
  run: RunExecution,
  idx: number,
  capability: string,
  action: string,
  input: unknown,
  options: CheckedDispatchOptions,
): DispatchRequest {
  return {
    workflowId: run.id,
    stepIndex: idx,
    capability,
    action,
    input,
    idempotencyKey: `${run.id}:${idx}`,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
    ...(options.requires === undefined ? {} : { requires: options.requires }),
  };
}

/** Replays or performs the dispatched step at `idx`; resolves with how it ended (never throws for it). */
export async function dispatchAt(
  run: RunExecution,
  idx: number,
  name: string,
  capability: string,
  action: string,
  input: unknown,
  options: CheckedDispatchOptions,
): Promise<DispatchSettled> {
  const entry = run.replayed(idx, name, 'dispatch');
  if (entry?.status === 'completed') return { status: 'completed', output: entry.output };
  if (entry?.status === 'failed') return { status: 'failed', error: entry.error ?? UNKNOWN_ERROR };
  const dispatcher = run.host.dispatcher;
  if (dispatcher === undefined) {
    throw new WorkflowError(
      WorkflowErrorCode.noDispatcher,
      `workflow ${run.id} dispatched ${name}, but the engine was created without a dispatcher`,
    );
  }
  let request: unknown;
  try {
    request = JSON.parse(JSON.stringify(input ?? null)) as unknown;
  } catch (error) {
    throw new ValidationError(`ctx.dispatch input for ${name} cannot be stored as JSON`, undefined, error);
  }
  await run.boundary();
  let dueAt = entry?.dueAt;
  if (entry === undefined) {
    dueAt = options.timeoutMs === undefined ? undefined : run.host.clock.now() + options.timeoutMs;
    const detail = { capability, action, input: request };
    run.journal.set(idx, {
      idx,
      name,
      kind: 'dispatch',
      status: 'pending',
      output: undefined,
      error: undefined,
      attempts: 1,
      dueAt,
      detail,
    });
    run.writeStep({
      idx,
      name,
      kind: 'dispatch',
      status: 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt: dueAt ?? null,
      detail: JSON.stringify(detail),
    });
  }
  run.writePatch({ status: 'waiting', wakeAt: dueAt ?? null }, false);
  // The hand-off happens only once the pending entry is durable.
  await run.boundary();
  const outcome = run.wait(idx, 'dispatch', dueAt);
  const handOff = handOffOf(run, idx, capability, action, request, options);
  // The hand-off runs in the dispatch span: the task it writes stores that span as its parent.
  const result = await traceWait<WaitResult>(
    run,
    SpanName.dispatch,
    dispatchAttributes(run, idx, capability, action),
    async () => {
      // Answered before its hand-off committed (a fan-out's quorum cancelled it meanwhile): the withdrawal
      // then may have found nothing yet, so what the hand-off wrote is withdrawn once more after it.
      let answered = false;
      outcome.then(
        () => (answered = true),
        () => undefined, // a halted wait: nothing to withdraw here
      );
      // Counted as work in flight: the run is not parked while the hand-off itself may still fail.
      run.stepStarted();
      try {
        await dispatcher.dispatch(handOff, run.host.results);
        if (answered) await dispatcher.withdraw?.(handOff);
      } catch (error) {
        if (run.halted !== undefined) return never();
        await run.host.results.failDispatched(run.id, idx, error);
      } finally {
        run.stepSettled();
      }
      return outcome;
    },
  );
  const done = result.kind === 'entry' ? result.entry : await timedOut(run, idx, name, handOff);
  run.writePatch({ status: 'running', wakeAt: null }, false);
  if (done?.status === 'completed') return { status: 'completed', output: done.output };
  return { status: 'failed', error: done?.error ?? UNKNOWN_ERROR };
}

/**
 * The step's deadline passed: journals its failure (unless an answer won the race, which is then
 * returned) — `no_capable_agent` when no agent ever took it, else `dispatch_timeout`.
 */
async function timedOut(run: RunExecution, idx: number, name: string, handOff: DispatchRequest) {
  const { capability } = handOff;
  const [stored] = await readEntries(run.host.store, run.id, [idx]);
  if (stored !== undefined && stored.status !== 'pending') return stored;
  const detail = parseDetail(stored?.detail);
  const taken = detail.waiting?.reason === 'assigned' || (detail.attempts?.length ?? 0) > 0;
  const short = detail.waiting?.reason === 'no_capacity';
  const error = taken
    ? new WorkflowError(
        WorkflowErrorCode.dispatchTimeout,
        `dispatched step ${idx} (${name}) got no result before its timeout`,
        { details: { step: name, index: idx, capability, agentId: detail.waiting?.agentId } },
      )
    : new WorkflowError(
        WorkflowErrorCode.noCapableAgent,
        short
          ? `dispatched step ${idx} (${name}) timed out: no healthy agent with the capability "${capability}" had the resources it requires free`
          : `dispatched step ${idx} (${name}) timed out: no healthy agent has the capability "${capability}"`,
        { details: { step: name, index: idx, capability } },
      );
  // Failed here (not answered meanwhile): nothing still parked may reach an agent now.
  if (await run.host.results.failDispatched(run.id, idx, error))
    await run.host.dispatcher?.withdraw?.(handOff);
  const [after] = await readEntries(run.host.store, run.id, [idx]);
  return after ?? { status: 'failed' as const, error: errorInfo(error), output: undefined };
}

const dispatchAttributes = (run: RunExecution, idx: number, capability: string, action: string) => () => ({
  [Attr.runId]: run.id,
  [Attr.workflow]: run.def.name,
  [Attr.stepIndex]: idx,
  [Attr.capability]: capability,
  [Attr.action]: action,
});

function dispatchFailed(name: string, idx: number, info: WorkflowErrorInfo): WorkflowError {
  // A timeout is the step's own failure, thrown with its own code on the first run and every replay.
  if (info.code === WorkflowErrorCode.noCapableAgent || info.code === WorkflowErrorCode.dispatchTimeout)
    return new WorkflowError(info.code, info.message, { details: info.details });
  return new WorkflowError(
    WorkflowErrorCode.dispatchFailed,
    `dispatched step ${idx} (${name}) failed: ${info.message}`,
    {
      details: { step: name, index: idx, error: info },
    },
  );
}
