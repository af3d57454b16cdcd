/**
 * Calls to an agent that runs on another node. The call is a task on the agent's durable queue, at the
 * top priority, carrying a ticket (reply mailbox, call id, deadline); it is committed before the agent's
 * host is woken (LISTEN/NOTIFY). The agent runs it like any task and commits its outcome, with the
 * answer to the caller's node, in its checkpoint; the caller's inbox is woken by the answer's commit.
 * A call that gets no answer by its deadline fails with `call_timeout`, saying what became of it: still
 * queued, it is cancelled (and the agent never starts a call past its deadline), so it will not run;
 * running, it may still complete; finished, its outcome came too late. Never fire-and-forget.
 */
import { randomUUID } from 'node:crypto';
import { GarrisonError, ValidationError } from '../errors.js';
import type { DeliveredMessage } from '../messaging/index.js';
import type { EnqueuedTask } from '../work/index.js';
import type { AgentDefinition } from './agent.js';
import { checkWork, enqueueForAgent } from './enqueue.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { HostCore } from './host-core.js';
import { replyMailbox, replySchema, type CallReply, type CallTicket } from './reply.js';
import type { AgentRow } from './rows.js';

/** Calls go ahead of queued work, as a direct call does on the agent's own node. */
export const CALL_PRIORITY = 1_000_000;

/** What became of a call that timed out. */
export type ExpiredState = 'cancelled' | 'running' | 'finished' | 'dead';

const expiredText: Record<ExpiredState, string> = {
  cancelled: 'it had not started, was cancelled and will not run',
  running: 'it has started and may still complete',
  finished: 'its outcome was committed, after the deadline',
  dead: 'its task could not be run and is with the dead tasks',
};

interface Pending {
  resolve(reply: CallReply): void;
}

/** The error an answer carries, as a typed error again. */
function errorOf(reply: CallReply, agentId: string): Error {
  if (reply.outcome.ok) throw new Error('not a failure');
  const { code, message, retryable } = reply.outcome.error;
  const details = { agentId, node: reply.node, taskId: reply.taskId };
  if (code === 'invalid_input') return new ValidationError(message, details);
  if ((Object.values(AgentErrorCode) as string[]).includes(code))
    return new AgentError(code as AgentErrorCode, message, { retryable, details });
  return new GarrisonError(code, message, { retryable, details });
}

export class RemoteCalls {
  private readonly pending = new Map<string, Pending>();
  private inbox: Promise<{ stop(): Promise<void> }> | undefined;
  private closed = false;
  private readonly mailbox: string;

  constructor(
    private readonly core: HostCore,
    private readonly instance: string,
  ) {
    this.mailbox = replyMailbox(core.nodeId);
  }

  /** Runs `action` on the agent of `row` (on another node) and answers its output once committed there. */
  async call(
    row: AgentRow,
    def: AgentDefinition | undefined,
    action: string,
    input: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    const { core } = this;
    const checked = checkWork(def, row.id, action, input);
    await this.openInbox();
    const ticket: CallTicket = {
      to: this.mailbox,
      id: randomUUID(),
      instance: this.instance,
      deadline: core.clock.now() + timeoutMs,
    };
    // Listening before the task exists: its answer may come back before `enqueue` has returned.
    const answer = new Promise<CallReply>((resolve) => this.pending.set(ticket.id, { resolve }));
    let task: EnqueuedTask;
    try {
      task = await core.store.transaction((tx) =>
        enqueueForAgent(
          tx,
          core,
          row.id,
          { action, input: checked, call: ticket },
          { priority: CALL_PRIORITY },
        ),
      );
    } catch (error) {
      this.pending.delete(ticket.id);
      throw error;
    }
    let timer: { cancel(): void } | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = core.clock.setTimer(Math.max(0, ticket.deadline - core.clock.now()), () => resolve('timeout'));
    });
    const first = await Promise.race([answer, deadline]);
    timer?.cancel();
    this.pending.delete(ticket.id);
    if (first !== 'timeout') {
      if (first.outcome.ok) return first.outcome.output;
      throw errorOf(first, row.id);
    }
    const state = await this.expire(task.id);
    throw new AgentError(
      AgentErrorCode.callTimeout,
      `the call of action "${action}" on agent ${row.id} (node ${row.node}) got no answer within ${timeoutMs} ms: ${expiredText[state]}`,
      {
        retryable: true,
        details: { agentId: row.id, node: row.node, action, taskId: task.id, state, timeoutMs },
      },
    );
  }

  /** Cancels the call's task if it has not started; answers what became of it. */
  private async expire(taskId: number): Promise<ExpiredState> {
    const { queues } = this.core;
    const task = await queues.getTask(taskId);
    if (task === undefined || task.state === 'completed') return 'finished';
    if (task.state === 'running') return 'running';
    if (task.state === 'dead') return 'dead';
    if (task.state === 'cancelled') return 'cancelled';
    // Queued. Were it claimed meanwhile, its agent would not start it: its deadline has passed.
    const after = await queues.cancel(taskId);
    return after === 'cancelled'
      ? 'cancelled'
      : after === 'dead'
        ? 'dead'
        : after === 'running'
          ? 'running'
          : 'finished';
  }

  /** Starts the node's reply consumer once; resolves when it listens. */
  private openInbox(): Promise<unknown> {
    if (this.closed)
      return Promise.reject(new AgentError(AgentErrorCode.hostStopped, 'the agent host is shut down'));
    if (this.inbox === undefined) {
      const opening = this.core.delivery.startConsumer(
        this.mailbox,
        (m: DeliveredMessage) => this.receive(m),
        {
          recheckMs: this.core.pollIntervalMs,
        },
      );
      this.inbox = opening;
      // A failed start is tried again by the next call.
      opening.catch(() => {
        if (this.inbox === opening) this.inbox = undefined;
      });
    }
    return this.inbox;
  }

  /**
   * An answer: handed to its waiting call. An answer nobody waits for — its call timed out, or was made
   * by an earlier host of this node — is acknowledged and dropped.
   */
  private receive(message: DeliveredMessage): void {
    const parsed = replySchema.safeParse(message.body);
    if (!parsed.success || parsed.data.instance !== this.instance) return;
    this.pending.get(parsed.data.callId)?.resolve(parsed.data);
  }

  /** Stops the inbox; calls still waiting fail with `host_stopped`. */
  async close(): Promise<void> {
    this.closed = true;
    const inbox = this.inbox;
    this.inbox = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) {
      // A call waiting for an answer when its host stops gets a definite answer: the host is gone.
      w.resolve({
        callId: '',
        instance: this.instance,
        taskId: 0,
        node: this.core.nodeId,
        outcome: {
          ok: false,
          error: {
            code: AgentErrorCode.hostStopped,
            message:
              'the agent host was shut down while the call waited for its answer (the call may still run)',
            retryable: true,
          },
        },
      });
    }
    if (inbox !== undefined) await (await inbox.catch(() => undefined))?.stop();
  }
}
