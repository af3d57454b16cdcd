/**
 * The task distributor: routes each step a workflow dispatches to a healthy agent with the capability,
 * least loaded first (load = tasks queued or running on the agent's own queue, read from the store, so
 * every node agrees). Nothing waits in memory: a step with no capable healthy agent is parked as a task
 * on `dispatch:<capability>` and routed by the next sweep; a step whose agent is gone (unregistered) is
 * moved to another agent. Every hand-off is an idempotent enqueue, so a crash between two writes repeats
 * a hand-off instead of losing it, and the workflow journal accepts one answer per step.
 */
import { z } from 'zod';
import { describeIssues, GarrisonError, ValidationError } from '../../errors.js';
import type { AgentRegistry } from '../../registry/index.js';
import type { Clock } from '../../runtime/index.js';
import { parseJson, type Store } from '../../store/index.js';
import type { DispatchRequest, DispatchResults, Dispatcher, QueueClient } from '../../work/index.js';
import {
  dispatchedTaskSchema,
  isDispatchedTask,
  type DispatchedTask,
  type DispatchInfo,
  type DispatchOutcome,
} from './dispatched-task.js';
import { inJsonList, queueLoads } from './load.js';

/** Where parked steps wait for a capable agent. */
export const PARKING_PREFIX = 'dispatch:';

export interface TaskDistributorOptions {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly clock: Clock;
  /** Where an agent's work goes: the name of its own queue. */
  readonly queueOf: (agentId: string) => string;
  /** What every agent queue name starts with (to find the work of agents that are gone). */
  readonly agentQueuePrefix: string;
  /** Where outcomes are journaled (the workflow engine). A function: the engine may be built later. */
  readonly results: () => DispatchResults;
  /** Attempts of a routed task before it is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  /** Most parked or orphaned tasks moved per sweep. Default 500. */
  readonly sweepBatch?: number;
  /** Receives routing errors no caller waits for. Default: a process warning. */
  readonly onError?: (error: unknown) => void;
}

const optionsSchema = z.object({
  agentQueuePrefix: z.string().min(1).max(100),
  maxAttempts: z.number().int().min(1).max(1000).default(5),
  sweepBatch: z.number().int().min(1).max(10_000).default(500),
});

/** Figures of this distributor since it started (the durable ones are in the store). */
export interface DistributorStats {
  readonly routed: number;
  readonly parked: number;
  readonly rerouted: number;
  readonly settled: number;
  /** Answers for steps that had been answered already (a re-routed step answered twice). */
  readonly lateAnswers: number;
}

export class TaskDistributor implements Dispatcher {
  private readonly o: TaskDistributorOptions;
  private readonly maxAttempts: number;
  private readonly sweepBatch: number;
  private readonly report: (error: unknown) => void;
  private sweeping: Promise<void> | undefined;
  /** Routes made here whose tasks the last load read may not have seen yet (concurrent dispatches). */
  private readonly inFlight = new Map<string, number>();
  private turn = 0;
  private closed = false;
  private again = false;
  private readonly counts = { routed: 0, parked: 0, rerouted: 0, settled: 0, lateAnswers: 0 };

  constructor(options: TaskDistributorOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success)
      throw new ValidationError(`invalid task distributor options: ${describeIssues(parsed.error.issues)}`);
    this.o = options;
    this.maxAttempts = parsed.data.maxAttempts;
    this.sweepBatch = parsed.data.sweepBatch;
    this.report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`task distributor: ${String(error)}`, 'GarrisonWarning'));
  }

  stats(): DistributorStats {
    return { ...this.counts };
  }

  /** Hands a dispatched step to an agent (or parks it). Resolves once the hand-off is committed. */
  async dispatch(request: DispatchRequest): Promise<void> {
    const info: Omit<DispatchInfo, 'agentId'> = {
      workflowId: request.workflowId,
      stepIndex: request.stepIndex,
      capability: request.capability,
      idempotencyKey: request.idempotencyKey,
      route: 1,
    };
    await this.route({ action: request.action, input: request.input }, info);
  }

  /** True when a task payload is a dispatched step (agents ask before settling). */
  isDispatched(payload: unknown): boolean {
    return isDispatchedTask(payload);
  }

  /**
   * Journals an agent's outcome for a dispatched step. Idempotent: a step answered already (by an
   * earlier route of it, or an earlier try of this task) is left as it is.
   */
  async settle(payload: unknown, outcome: DispatchOutcome): Promise<void> {
    const task = dispatchedTaskSchema.safeParse(payload);
    if (!task.success)
      throw new ValidationError(`not a dispatched task: ${describeIssues(task.error.issues)}`);
    const d = task.data.dispatch;
    const results = this.o.results();
    const applied = outcome.ok
      ? await results.completeDispatched(d.workflowId, d.stepIndex, outcome.output)
      : await results.failDispatched(d.workflowId, d.stepIndex, outcome.error);
    if (applied) this.counts.settled += 1;
    else this.counts.lateAnswers += 1;
  }

  /**
   * Routes parked steps to agents that can now take them, and moves the work of agents that are gone.
   * Concurrent calls share one sweep (and ask for one more after it).
   */
  sweep(): Promise<void> {
    if (this.sweeping !== undefined) {
      this.again = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      do {
        this.again = false;
        await this.routeParked();
        await this.moveOrphans();
      } while (this.again);
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Sweeps in the background after a registry change; errors go to `onError`. Ignored once closed. */
  nudge(): void {
    if (this.closed) return;
    this.sweep().catch(this.report);
  }

  /** Sweeps again after `close` (a restarted distributor process). */
  reopen(): void {
    this.closed = false;
  }

  /** Stops background sweeps and waits for the one in progress. Dispatch and settle still work. */
  async close(): Promise<void> {
    this.closed = true;
    this.again = false;
    await this.sweeping?.catch(() => undefined);
  }

  // ---- routing -------------------------------------------------------------------------------------

  /**
   * The healthy agent with the capability and the fewest tasks in hand, or undefined. The choice is
   * counted in `inFlight` until its enqueue has committed (the caller releases it).
   */
  private async pick(capability: string): Promise<string | undefined> {
    const agents = await this.o.registry.findCapableHealthy(capability);
    if (agents.length === 0) return undefined;
    const queues = agents.map((a) => this.o.queueOf(a.id));
    const loads = await queueLoads(this.o.store, queues);
    let least = Infinity;
    let ties: string[] = [];
    for (const a of agents) {
      const load = (loads.get(this.o.queueOf(a.id)) ?? 0) + (this.inFlight.get(a.id) ?? 0);
      if (load < least) {
        least = load;
        ties = [a.id];
      } else if (load === least) ties.push(a.id);
    }
    // Equally loaded agents take turns, so an idle team shares the work.
    const chosen = ties[this.turn++ % ties.length];
    // Counted before any await, so concurrent dispatches see each other's choices.
    if (chosen !== undefined) this.inFlight.set(chosen, (this.inFlight.get(chosen) ?? 0) + 1);
    return chosen;
  }

  /** Enqueues the step on an agent's queue, or parks it. Answers the agent, or undefined when parked. */
  private async route(
    work: { action: string; input: unknown },
    info: Omit<DispatchInfo, 'agentId'>,
  ): Promise<string | undefined> {
    const agentId = await this.pick(info.capability);
    if (agentId === undefined) {
      await this.o.queues.enqueue(
        `${PARKING_PREFIX}${info.capability}`,
        { ...work, dispatch: { ...info, agentId: '-' } },
        { idempotencyKey: `park:${info.idempotencyKey}#${info.route}`, maxAttempts: this.maxAttempts },
      );
      this.counts.parked += 1;
      return undefined;
    }
    const payload: DispatchedTask = { ...work, dispatch: { ...info, agentId } };
    try {
      await this.o.queues.enqueue(this.o.queueOf(agentId), payload, {
        idempotencyKey: `${info.idempotencyKey}#${info.route}`,
        maxAttempts: this.maxAttempts,
      });
    } finally {
      const left = (this.inFlight.get(agentId) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(agentId);
      else this.inFlight.set(agentId, left);
    }
    this.counts.routed += 1;
    return agentId;
  }

  private async routeParked(): Promise<void> {
    const rows = await this.o.store.query<{ id: number | string; payload: unknown }>(
      "SELECT id, payload FROM garrison_tasks WHERE queue LIKE $1 AND state = 'queued' ORDER BY id LIMIT $2",
      [`${PARKING_PREFIX}%`, this.sweepBatch],
    );
    for (const row of rows) {
      const task = dispatchedTaskSchema.safeParse(parseJson(row.payload));
      if (!task.success) continue;
      const { agentId: _parked, ...info } = task.data.dispatch;
      const routed = await this.route({ action: task.data.action, input: task.data.input }, info);
      if (routed === undefined) continue; // still no agent: it stays parked (the new park is the same task)
      await this.o.queues.cancel(Number(row.id));
    }
  }

  /** Work queued on or leased from the queue of an agent that is no longer registered moves on. */
  private async moveOrphans(): Promise<void> {
    const rows = await this.o.store.query<{ id: number | string; queue: string; payload: unknown }>(
      'SELECT id, queue, payload FROM garrison_tasks WHERE queue LIKE $1 ' +
        "AND state IN ('queued', 'running') ORDER BY id LIMIT $2",
      [`${this.o.agentQueuePrefix}%`, this.sweepBatch],
    );
    if (rows.length === 0) return;
    const agentIds = [...new Set(rows.map((r) => r.queue.slice(this.o.agentQueuePrefix.length)))];
    const present = await this.o.store.query<{ id: string }>(
      `SELECT id FROM garrison_agents WHERE id IN ${inJsonList(this.o.store.dialect, 1)}`,
      [JSON.stringify(agentIds)],
    );
    const alive = new Set(present.map((p) => p.id));
    for (const row of rows) {
      if (alive.has(row.queue.slice(this.o.agentQueuePrefix.length))) continue;
      const task = dispatchedTaskSchema.safeParse(parseJson(row.payload));
      if (!task.success) continue; // not dispatched work: the agent's own, kept for its return
      const { agentId: _gone, route, ...rest } = task.data.dispatch;
      await this.route({ action: task.data.action, input: task.data.input }, { ...rest, route: route + 1 });
      this.counts.rerouted += 1;
      try {
        await this.o.queues.cancel(Number(row.id));
      } catch (error) {
        // Finished meanwhile: its answer is journaled (or ignored as late); the new route is harmless.
        if (!(error instanceof GarrisonError)) throw error;
      }
    }
  }
}

export function createTaskDistributor(options: TaskDistributorOptions): TaskDistributor {
  return new TaskDistributor(options);
}
