/**
 * One task from the agent's queue, inside the agent's process. The action's outcome — success or
 * failure — is the task's outcome: it is checkpointed with the id of the task, and the queue then
 * completes the task. A task is run again only when its run did not finish — the process or the node
 * died, its lease was lost — or when the action failed with a retryable error (an open breaker, a full
 * queue downstream) and attempts remain: the queue retries it after its backoff. The checkpoint recognizes a task it has already recorded (the crash came
 * between the checkpoint and the queue's completion) and answers its recorded outcome instead of
 * running it twice.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { ClaimedTask } from '../work/index.js';
import { AgentErrorCode, unknownAction, unknownSignal } from './errors.js';
import { ticketOf } from './reply.js';
import { signalOfTask } from './signals.js';
import {
  recordFailure,
  runAction,
  storedOutcome,
  willRetry,
  type AgentProcState,
  type RunOutcome,
} from './run-action.js';
import type { StoredOutcome } from './rows.js';

/**
 * The process's answer to its consumer. `ok: false` means the task's run could not be recorded or
 * settled (the queue retries the task); an action's own failure is `ok: true` with a failed outcome.
 */
export type TaskReply =
  { readonly ok: true; readonly outcome: StoredOutcome } | { readonly ok: false; readonly error: unknown };

const payloadSchema = z.looseObject({ action: z.string().min(1).max(200), input: z.unknown() });

export async function runTask(
  p: AgentProcState,
  task: ClaimedTask,
  signal: AbortSignal,
  markProcessing: (taskId: number) => Promise<void>,
): Promise<TaskReply> {
  let stored: StoredOutcome;
  if (p.row.lastTaskId === task.id && p.row.lastOutcome !== null) {
    stored = p.row.lastOutcome;
  } else if (expired(p, task)) {
    // Its caller has given up and was told it would not run: it must not start now.
    return {
      ok: true,
      outcome: {
        ok: false,
        error: {
          code: AgentErrorCode.callTimeout,
          message: `the call of task ${task.id} expired before it started`,
        },
      },
    };
  } else {
    await markProcessing(task.id);
    const outcome = await runOne(p, task, signal);
    if (!signal.aborted) await noteAttempt(p, task, outcome);
    // Aborted (the task was handed back by a draining node, cancelled, or its lease lost): the run did not
    // finish, so it has no outcome to record — whoever runs the task next decides it.
    if (!outcome.ok && (signal.aborted || willRetry(task, outcome.error)))
      return { ok: false, error: outcome.error };
    stored = storedOutcome(outcome);
  }
  if (p.core.settle !== undefined) {
    try {
      await p.core.settle(task.payload, stored);
    } catch (error) {
      return { ok: false, error };
    }
  }
  return { ok: true, outcome: stored };
}

/**
 * Puts the attempt on the timeline of the workflow that dispatched the task (a no-op for other tasks).
 * The timeline is a record, not the outcome: a failure to write it is reported, the task goes on.
 */
async function noteAttempt(p: AgentProcState, task: ClaimedTask, outcome: RunOutcome): Promise<void> {
  if (p.core.attempted === undefined) return;
  const retried = !outcome.ok && willRetry(task, outcome.error);
  const stored = storedOutcome(outcome);
  try {
    await p.core.attempted(task.payload, {
      attempt: task.attempt,
      ...(stored.ok ? {} : { error: stored.error }),
      retried,
    });
  } catch (error) {
    p.core.emit('agent.error', { agentId: p.hosted.id, operation: 'note dispatched attempt', error });
  }
}

/** True when the task is a call whose caller's deadline has passed. */
function expired(p: AgentProcState, task: ClaimedTask): boolean {
  const ticket = ticketOf(task);
  return ticket !== undefined && p.core.clock.now() >= ticket.deadline;
}

async function runOne(p: AgentProcState, task: ClaimedTask, signal: AbortSignal): Promise<RunOutcome> {
  const sent = signalOfTask(task.payload);
  if (sent !== undefined) {
    const name = p.hosted.def.signalAction(sent.type);
    const handler = name === undefined ? undefined : p.hosted.def.actions.get(name);
    if (handler === undefined) {
      const error = unknownSignal(p.hosted.id, sent.type, p.hosted.def.signalPatterns);
      return recordFailure(p, `(signal ${sent.type})`, error, task, 0);
    }
    return runAction(p, handler, sent, task, signal);
  }
  const payload = payloadSchema.safeParse(task.payload);
  if (!payload.success) {
    const error = new ValidationError(
      `task ${task.id} of agent ${p.hosted.id} is not an agent task: ${describeIssues(payload.error.issues)}`,
      { taskId: task.id },
    );
    return recordFailure(p, '(invalid task)', error, task, 0);
  }
  const { action: name, input } = payload.data;
  const action = p.hosted.def.actions.get(name);
  if (action === undefined) {
    const error = unknownAction(p.hosted.id, name, [...p.hosted.def.actions.keys()]);
    return recordFailure(p, name, error, task, 0);
  }
  return runAction(p, action, input, task, signal);
}
