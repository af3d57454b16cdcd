/**
 * Running one action inside the agent's process, then checkpointing: the new state, the counters, the
 * task's outcome and every directive commit in one store transaction — or, when the action failed (or
 * a directive was refused), the failure counters alone. The caller hears of the outcome only after it
 * has committed.
 */
import { randomUUID } from 'node:crypto';
import { GarrisonError, isGarrisonError, ValidationError } from '../errors.js';
import { isStoreError, type Tx } from '../store/index.js';
import { traceAction } from '../telemetry/index.js';
import type { ClaimedTask } from '../work/index.js';
import { ActionResult, type ActionContext, type ActionDefinition } from './action.js';
import { parseDirectives, type Directive } from './directives.js';
import { checkWork, enqueueForAgent } from './enqueue.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { HostCore } from './host-core.js';
import type { Hosted } from './hosted.js';
import { checkpointFailure, checkpointSuccess, type AgentRow, type StoredOutcome } from './rows.js';
import { syncRegistry } from './registry-sync.js';
import { sendReply, ticketOf } from './reply.js';

/** The process's cache of its agent: the row and the state as last committed. */
export interface AgentProcState {
  readonly core: HostCore;
  readonly hosted: Hosted;
  readonly processId: string;
  row: AgentRow;
  state: unknown;
}

export type RunOutcome =
  { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: unknown };

interface Success {
  readonly ok: true;
  readonly output: unknown;
  readonly next: { readonly value: unknown } | undefined;
  readonly directives: readonly Directive[];
}

/** What the store keeps of an outcome (and settles again if the task is retried). */
export function storedOutcome(outcome: RunOutcome): StoredOutcome {
  if (outcome.ok) return { ok: true, output: outcome.output ?? null };
  const e = outcome.error;
  const cause = e instanceof Error ? causeInfo(e.cause) : undefined;
  const details = {
    ...(isGarrisonError(e) ? e.details : undefined),
    ...(cause === undefined ? {} : { cause }),
  };
  return {
    ok: false,
    error: {
      code: isGarrisonError(e) ? e.code : AgentErrorCode.actionFailed,
      message: e instanceof Error ? e.message : String(e),
      ...(Object.keys(details).length === 0 ? {} : { details }),
    },
  };
}

/** What an action threw, as plain data (kept with the failure: its name, message, code, details). */
function causeInfo(cause: unknown): Record<string, unknown> | undefined {
  if (!(cause instanceof Error)) return undefined;
  return {
    name: cause.name,
    message: cause.message,
    ...(isGarrisonError(cause) ? { code: cause.code, retryable: cause.retryable } : {}),
    ...(isGarrisonError(cause) && cause.details !== undefined ? { details: cause.details } : {}),
  };
}

/**
 * The idempotency key of an action's run: a dispatched step's own (`<workflow id>:<step index>`, the same
 * on every attempt, re-route and restart), else `task:<id>` for a queued task, else one per call.
 */
function idempotencyKeyOf(task: ClaimedTask | undefined): string {
  if (task === undefined) return `call:${randomUUID()}`;
  const payload = task.payload as { dispatch?: { idempotencyKey?: unknown } } | null;
  const key = payload !== null && typeof payload === 'object' ? payload.dispatch?.idempotencyKey : undefined;
  return typeof key === 'string' && key.length > 0 ? key : `task:${task.id}`;
}

async function execute(
  p: AgentProcState,
  action: ActionDefinition,
  rawInput: unknown,
  task: ClaimedTask | undefined,
  signal: AbortSignal,
  now: number,
): Promise<Success> {
  const { hosted } = p;
  const input = action.parseInput(rawInput);
  const ctx: ActionContext<unknown> = {
    agentId: hosted.id,
    agentType: hosted.def.type,
    state: p.state as Readonly<unknown>,
    now,
    signal,
    task:
      task === undefined
        ? undefined
        : { id: task.id, attempt: task.attempt, maxAttempts: task.maxAttempts, priority: task.priority },
    idempotencyKey: idempotencyKeyOf(task),
    registry: p.core.registry,
    broadcast: (capability, name, input, options = {}) =>
      p.core.broadcast(capability, name, input, {
        ...options,
        exclude: [...(options.exclude ?? []), hosted.id],
      }),
  };
  let returned: unknown;
  try {
    returned = await action.run(ctx, input);
  } catch (error) {
    throw new AgentError(
      AgentErrorCode.actionFailed,
      `action "${action.name}" of agent ${hosted.id} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
        // A queued task is retried after any error but a Garrison error that says it is not retryable
        // (a PermanentError, bad input): a plain Error is taken as transient. A call (local, or remote
        // through a task) answers its caller with its first plain failure.
        retryable: isGarrisonError(error)
          ? error.retryable
          : task !== undefined && ticketOf(task) === undefined,
        details: { agentId: hosted.id, action: action.name },
      },
    );
  }
  const result = returned instanceof ActionResult ? returned : new ActionResult(returned, []);
  const output = action.parseOutput(result.output);
  const directives = parseDirectives(action.name, result.directives);
  if (action.readOnly && directives.length > 0)
    throw new ValidationError(`action "${action.name}" is read-only and may not return directives`);
  let next: { value: unknown } | undefined;
  for (const d of directives) {
    if (d.kind === 'set_state')
      next = { value: hosted.def.parseState(d.state, `the state set by action "${action.name}"`) };
  }
  return { ok: true, output, next, directives };
}

interface Signal {
  readonly type: string;
  readonly data: unknown;
}

/** Applies the directives other than `set_state` inside the checkpoint's transaction. */
async function applyDirectives(
  tx: Tx,
  p: AgentProcState,
  directives: readonly Directive[],
): Promise<Signal[]> {
  const signals: Signal[] = [];
  for (const d of directives) {
    if (d.kind === 'enqueue') {
      const target = d.agentId ?? p.hosted.id;
      const options = { priority: d.priority, delayMs: d.delayMs, idempotencyKey: d.idempotencyKey };
      const def = target === p.hosted.id ? p.hosted.def : p.core.definitionOf(target);
      const input = checkWork(def, target, d.action, d.input);
      await enqueueForAgent(tx, p.core, target, { action: d.action, input }, options, target === p.hosted.id);
    } else if (d.kind === 'enqueue_task') {
      const { queue, payload, priority, delayMs, idempotencyKey } = d;
      await p.core.queues.enqueue(queue, payload, { priority, delayMs, idempotencyKey, tx });
    } else if (d.kind === 'emit') {
      signals.push({ type: d.type, data: d.data });
    }
  }
  return signals;
}

/** An error that means "this action failed" rather than "the store or the process failed". */
function refusedWork(error: unknown): boolean {
  return (
    error instanceof GarrisonError && !isStoreError(error) && error.code !== AgentErrorCode.agentSuperseded
  );
}

/**
 * Runs `action` and checkpoints its outcome. Resolves with the outcome once it has committed. A store
 * failure rejects (the caller lets the process crash: its supervisor restarts it from the store).
 */
export async function runAction(
  p: AgentProcState,
  action: ActionDefinition,
  rawInput: unknown,
  task: ClaimedTask | undefined,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const { core, hosted } = p;
  const started = core.clock.now();
  let outcome: Success | { ok: false; error: unknown };
  try {
    outcome = await traceAction(hosted.id, action.name, task, () =>
      execute(p, action, rawInput, task, signal, started),
    );
  } catch (error) {
    if (!(error instanceof GarrisonError)) throw error;
    outcome = { ok: false, error };
  }
  const durationMs = core.clock.now() - started;
  const report = (ok: boolean, error: unknown) =>
    core.emit('agent.action', {
      agentId: hosted.id,
      action: action.name,
      ok,
      error: ok ? undefined : isGarrisonError(error) ? error.code : AgentErrorCode.actionFailed,
      durationMs,
      taskId: task?.id,
    });
  if (action.readOnly && task === undefined) {
    report(outcome.ok, outcome.ok ? undefined : outcome.error);
    return outcome.ok ? { ok: true, output: outcome.output } : outcome;
  }

  const base = { id: hosted.id, incarnation: p.row.incarnation, durationMs, now: core.clock.now() };
  if (outcome.ok) {
    const success = outcome;
    const taskOutcome = task && { id: task.id, outcome: storedOutcome({ ok: true, output: success.output }) };
    try {
      const { row, signals } = await core.store.transaction(async (tx) => {
        const state = success.next?.value;
        const row = await checkpointSuccess(tx, { ...base, state, task: taskOutcome });
        const signals = await applyDirectives(tx, p, success.directives);
        await sendReply(tx, core, task, { ok: true, output: success.output });
        return { row, signals };
      });
      p.row = row;
      if (success.next !== undefined) p.state = success.next.value;
      report(true, undefined);
      for (const s of signals) {
        core.emit('agent.signal', {
          id: randomUUID(),
          type: s.type,
          source: `agent/${hosted.id}`,
          time: core.clock.now(),
          data: s.data,
        });
      }
      return { ok: true, output: success.output };
    } catch (error) {
      if (!refusedWork(error)) throw error;
      outcome = { ok: false, error };
    }
  }

  return recordFailure(p, action.name, outcome.error, task, durationMs);
}

/**
 * Checkpoints a failed action (or a task that could not even start: an unknown action, a bad payload):
 * the counters and the task's outcome; the agent pauses itself when its streak of final failures (of
 * distinct tasks and calls) reaches its limit.
 */
export async function recordFailure(
  p: AgentProcState,
  actionName: string,
  error: unknown,
  task: ClaimedTask | undefined,
  durationMs: number,
): Promise<RunOutcome> {
  const { core, hosted } = p;
  const base = { id: hosted.id, incarnation: p.row.incarnation, durationMs, now: core.clock.now() };
  // A task that will be retried has no outcome yet: its next attempt must run, not be answered.
  const recorded = task !== undefined && !willRetry(task, error) ? task : undefined;
  // Only a final failure counts toward the automatic pause: a task failing all its attempts is one
  // failure of the agent, so one poison task cannot pause the agents of its capability.
  const final = task === undefined || recorded !== undefined;
  const row = await core.store.transaction(async (tx) => {
    const taskOutcome = recorded && { id: recorded.id, outcome: storedOutcome({ ok: false, error }) };
    const row = await checkpointFailure(tx, { ...base, state: undefined, task: taskOutcome }, final);
    if (recorded !== undefined) await sendReply(tx, core, recorded, { ok: false, error });
    if (trippedPause(row)) await syncRegistry(tx, core, hosted.id, p.processId, row);
    return row;
  });
  p.row = row;
  core.emit('agent.action', {
    agentId: hosted.id,
    action: actionName,
    ok: false,
    error: isGarrisonError(error) ? error.code : AgentErrorCode.actionFailed,
    durationMs,
    taskId: task?.id,
  });
  if (trippedPause(row)) {
    hosted.paused = true;
    core.emit('agent.paused', { agentId: hosted.id, reason: 'consecutive_errors' });
    pauseConsumer(hosted, core);
  }
  return { ok: false, error };
}

/**
 * True when a queued task's failure is retried by its queue (with backoff) rather than final: the error
 * is retryable (its own `retryable`, or the one the action threw) and attempts remain.
 */
export function willRetry(task: ClaimedTask, error: unknown): boolean {
  return isGarrisonError(error) && error.retryable && task.attempt < task.maxAttempts;
}

/**
 * True when the failure just recorded paused the agent: its streak is exactly at the limit and the
 * pause is the streak's (a pause by hand keeps its own reason; failures while paused go past the limit).
 */
function trippedPause(row: AgentRow): boolean {
  return (
    row.status === 'paused' &&
    row.pauseReason === 'consecutive_errors' &&
    row.consecutiveErrors === row.maxConsecutiveErrors
  );
}

/**
 * Stops taking tasks from the queue. Never awaited from inside the process: the consumer's stop waits
 * for the task the process is running right now.
 */
export function pauseConsumer(hosted: Hosted, core: HostCore): void {
  const consumer = hosted.consumer;
  if (consumer === undefined) return;
  hosted.consumer = undefined;
  const stopped = consumer.stop();
  hosted.consumerStopped = stopped.catch(() => undefined);
  core.track(hosted.id, 'stop queue consumer', stopped);
}
