/**
 * The task distributor: routes each step a workflow dispatches to a healthy agent with the capability,
 * least loaded first (load = tasks queued or running on the agent's own queue, read from the store, so
 * every node agrees). Nothing waits in memory: a step with no capable healthy agent is parked as a task
 * on `dispatch:<capability>` and routed by the next sweep; a step on the queue of an agent that is gone
 * (unregistered) or unhealthy is moved to another agent (from an unhealthy one only once no live lease
 * holds it: a paused agent finishes what it runs). Every change of hands is one transaction (see
 * `handoff.ts`), so a step has exactly one live task at every commit, and the workflow journal accepts
 * one answer per step. A step may require resources (`resources.ts`): it goes only to an agent with that
 * much free, reserved by the hand-off's own commit. Queued steps are rebalanced from busy agents of a
 * capability to idle ones (`rebalance`), through the same fenced hand-off.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Agent, AgentRegistry } from '../../registry/index.js';
import type { Clock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import {
  errorInfo,
  type DispatchRequest,
  type DispatchResults,
  type Dispatcher,
  type QueueClient,
} from '../../work/index.js';
import {
  dispatchedTaskSchema,
  dispatchOutcomeSchema,
  dispatchRequestSchema,
  isDispatchedTask,
  PARKED,
  parkingQueue,
  type DispatchedTask,
  type DispatchOutcome,
} from './dispatched-task.js';
import { lockLive, moveStep, type Destination } from './handoff.js';
import { queueLoads } from './load.js';
import { agentUnavailable, failStranded, withdrawQueued } from './pinned.js';
import { describeRequirements, fits, reservedOn, stillFits, type Requirements } from './resources.js';
import {
  parkedCopies,
  parkedSteps,
  parkingQueues,
  queuedSteps,
  strandedSteps,
  type FoundTask,
} from './sweep-reads.js';

export interface TaskDistributorOptions {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly clock: Clock;
  /** Where an agent's work goes: the name of its own queue. */
  readonly queueOf: (agentId: string) => string;
  /** What every agent queue name starts with (`queueOf('')`), to find the work of agents that are gone. */
  readonly agentQueuePrefix: string;
  /** Where outcomes are journaled (the workflow engine). A function: the engine may be built later. */
  readonly results: () => DispatchResults;
  /** Attempts of a routed task before it is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  /** Most parked steps routed per parking queue, and stranded steps moved, per sweep. Default 500. */
  readonly sweepBatch?: number;
  /**
   * Whether sweeps move queued steps from busy agents of a capability to idle ones. Default true.
   */
  readonly rebalance?: boolean;
  /**
   * A queued step moves when its agent holds at least this many more tasks (queued and running) than
   * the least loaded healthy agent of the capability; at 2 or more every move leaves the two closer
   * and never reverses. Default 2.
   */
  readonly rebalanceThreshold?: number;
  /** Receives routing errors no caller waits for. Default: a process warning. */
  readonly onError?: (error: unknown) => void;
}

const optionsSchema = z.object({
  agentQueuePrefix: z.string().min(1).max(100),
  maxAttempts: z.number().int().min(1).max(1000).default(5),
  sweepBatch: z.number().int().min(1).max(10_000).default(500),
  rebalance: z.boolean().default(true),
  rebalanceThreshold: z.number().int().min(2).max(1_000_000).default(2),
});

/** An agent a step may go to, with what it reports to offer. */
interface Choice {
  readonly id: string;
  readonly offers: Readonly<Record<string, number>>;
}

/** A hand-off found the chosen agent's capacity taken by another since it was chosen. */
class CapacityTaken extends Error {}

/** Figures of this distributor since it started (the durable ones are in the store and the journal). */
export interface DistributorStats {
  /** Hand-offs to an agent: first routes, parked steps routed, stranded steps moved to an agent. */
  readonly routed: number;
  /** Steps parked for want of a capable healthy agent (at dispatch or when moved off a dead agent). */
  readonly parked: number;
  /** Steps moved off the queue of an agent that is gone or unhealthy. */
  readonly rerouted: number;
  /** Hand-offs of a step handed off before (a workflow resumed after a restart): nothing added. */
  readonly repeated: number;
  readonly settled: number;
  /** Answers for steps that had been answered already (a re-routed step answered twice). */
  readonly lateAnswers: number;
  /** Queued steps moved from a busy agent to an idle one of the same capability. */
  readonly rebalanced: number;
  /** Pinned steps (fan-out parts) failed because their agent was gone or unhealthy. */
  readonly unavailable: number;
}

export class TaskDistributor implements Dispatcher {
  /** Every hand-off is a committed task row: a workflow waiting for one may be parked. */
  readonly durable = true;
  private readonly o: TaskDistributorOptions;
  private readonly maxAttempts: number;
  private readonly sweepBatch: number;
  private readonly rebalanceOn: boolean;
  private readonly threshold: number;
  private readonly report: (error: unknown) => void;
  private sweeping: Promise<void> | undefined;
  /** Routes made here whose tasks the last load read may not have seen yet (concurrent dispatches). */
  private readonly inFlight = new Map<string, number>();
  private turn = 0;
  private closed = false;
  private again = false;
  private readonly counts = {
    routed: 0,
    parked: 0,
    rerouted: 0,
    repeated: 0,
    settled: 0,
    lateAnswers: 0,
    rebalanced: 0,
    unavailable: 0,
  };

  constructor(options: TaskDistributorOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success)
      throw new ValidationError(`invalid task distributor options: ${describeIssues(parsed.error.issues)}`);
    this.o = options;
    this.maxAttempts = parsed.data.maxAttempts;
    this.sweepBatch = parsed.data.sweepBatch;
    this.rebalanceOn = parsed.data.rebalance;
    this.threshold = parsed.data.rebalanceThreshold;
    this.report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`task distributor: ${String(error)}`, 'GarrisonWarning'));
  }

  stats(): DistributorStats {
    return { ...this.counts };
  }

  /**
   * Hands a dispatched step to an agent, or parks it. Resolves once the hand-off is committed. A step
   * handed off before (the engine hands pending steps off again after a restart) is left where it is.
   * Rejects with `invalid_input` for a malformed request (the engine journals it as the step's failure).
   */
  async dispatch(request: DispatchRequest): Promise<void> {
    const parsed = dispatchRequestSchema.safeParse(request);
    if (!parsed.success)
      throw new ValidationError(`invalid dispatch request: ${describeIssues(parsed.error.issues)}`);
    const r = parsed.data;
    const task = (agentId: string): DispatchedTask => ({
      action: r.action,
      input: r.input,
      dispatch: {
        workflowId: r.workflowId,
        stepIndex: r.stepIndex,
        capability: r.capability,
        idempotencyKey: r.idempotencyKey,
        agentId,
        route: 1,
        ...(r.maxAttempts === undefined ? {} : { maxAttempts: r.maxAttempts }),
        ...(r.requires === undefined ? {} : { requires: r.requires }),
        ...(r.agentId === undefined ? {} : { pinned: true as const }),
      },
    });
    const maxAttempts = r.maxAttempts ?? this.maxAttempts;
    const pinned = r.agentId;
    // Agents whose capacity another hand-off took between the choice and the commit: the next best one.
    const taken = new Set<string>();
    for (;;) {
      const { chosen, capable } =
        pinned === undefined
          ? await this.pick(r.capability, r.requires, taken)
          : await this.pinnedTo(pinned, r.capability);
      try {
        const done = await this.o.store.transaction(async (tx) => {
          const anchor = await this.o.queues.enqueue(parkingQueue(r.capability), task(PARKED), {
            tx,
            idempotencyKey: r.idempotencyKey,
            maxAttempts,
          });
          if (!anchor.created) return 'repeated' as const;
          // A pinned step is never parked: its agent counts as absent (rolls the anchor back).
          if (chosen === undefined && pinned !== undefined)
            throw agentUnavailable(pinned, r.capability, 'is not a healthy agent with it');
          if (chosen === undefined) return 'parked' as const;
          const queue = this.o.queueOf(chosen.id);
          if (r.requires !== undefined && !(await stillFits(tx, queue, chosen.offers, r.requires))) {
            if (pinned !== undefined)
              throw agentUnavailable(
                pinned,
                r.capability,
                `has not ${describeRequirements(r.requires)} free`,
              );
            throw new CapacityTaken();
          }
          const to = { queue, key: `${r.idempotencyKey}#1`, payload: task(chosen.id) };
          await moveStep(tx, this.o.queues, anchor.id, to, maxAttempts);
          return 'routed' as const;
        });
        this.counts[done] += 1;
        if (done !== 'repeated')
          await this.noteWait(r.workflowId, r.stepIndex, r.capability, chosen?.id, {
            capable,
            requires: r.requires,
          });
        return;
      } catch (error) {
        if (!(error instanceof CapacityTaken) || chosen === undefined) throw error;
        taken.add(chosen.id);
      } finally {
        if (pinned === undefined) this.release(chosen?.id);
      }
    }
  }

  /** The healthy agents with the capability now: a fan-out's participants. */
  async participants(capability: string): Promise<string[]> {
    return (await this.o.registry.findCapableHealthy(capability)).map((a) => a.id);
  }

  /** A pinned step's agent, when it is a healthy agent with the capability now. */
  private async pinnedTo(
    agentId: string,
    capability: string,
  ): Promise<{ chosen: Choice | undefined; capable: number }> {
    const capable = await this.o.registry.findCapableHealthy(capability);
    const agent = capable.find((a) => a.id === agentId);
    return {
      chosen: agent === undefined ? undefined : { id: agent.id, offers: agent.resources },
      capable: capable.length,
    };
  }

  /**
   * Records on the workflow's step why it waits: on an agent, or for want of a capable healthy one (the
   * run's timeline and `GET /v1/workflows/:id` show it). After the hand-off has committed; a step
   * answered meanwhile is left alone. A record, not the hand-off: a failure to write it goes to
   * `onError` and the hand-off stands.
   */
  private async noteWait(
    workflowId: string,
    stepIndex: number,
    capability: string,
    agentId: string | undefined,
    why: WhyParked = {},
  ): Promise<void> {
    try {
      await this.writeWait(workflowId, stepIndex, capability, agentId, why);
    } catch (error) {
      this.report(error);
    }
  }

  private async writeWait(
    workflowId: string,
    stepIndex: number,
    capability: string,
    agentId: string | undefined,
    why: WhyParked,
  ): Promise<void> {
    const results = this.o.results();
    if (results.noteDispatched === undefined) return;
    const since = this.o.clock.now();
    const short = why.requires !== undefined && (why.capable ?? 0) > 0;
    await results.noteDispatched(workflowId, stepIndex, {
      waiting:
        agentId === undefined
          ? short
            ? {
                reason: 'no_capacity',
                capability,
                since,
                message: `no healthy agent with the capability "${capability}" has ${describeRequirements(why.requires)} free; the step waits`,
              }
            : {
                reason: 'no_capable_agent',
                capability,
                since,
                message: `no healthy agent has the capability "${capability}"; the step waits for one`,
              }
          : {
              reason: 'assigned',
              capability,
              agentId,
              since,
              message: `on agent ${agentId}`,
            },
    });
  }

  /**
   * Records one attempt of a dispatched step's action on the workflow's timeline (the agent calls it
   * after every attempt, before settling the last). Rejects with `invalid_input` for a payload that is
   * not a dispatched step.
   */
  async attempted(
    payload: unknown,
    attempt: { readonly attempt: number; readonly error?: unknown; readonly retried: boolean },
  ): Promise<void> {
    const task = dispatchedTaskSchema.safeParse(payload);
    if (!task.success)
      throw new ValidationError(`not a dispatched task: ${describeIssues(task.error.issues)}`);
    const results = this.o.results();
    if (results.noteDispatched === undefined) return;
    const d = task.data.dispatch;
    await results.noteDispatched(d.workflowId, d.stepIndex, {
      attempt: {
        attempt: attempt.attempt,
        agentId: d.agentId,
        at: this.o.clock.now(),
        ...(attempt.error === undefined ? {} : { error: errorInfo(attempt.error) }),
        retried: attempt.retried,
      },
    });
  }

  /**
   * Cancels what of a step still waits on its parking queue (the workflow failed it at its deadline), so
   * that no agent starts it late; a step already on an agent is left there.
   */
  async withdraw(request: DispatchRequest): Promise<void> {
    const parsed = dispatchRequestSchema.safeParse(request);
    if (!parsed.success)
      throw new ValidationError(`invalid dispatch request: ${describeIssues(parsed.error.issues)}`);
    const r = parsed.data;
    await this.o.store.transaction(async (tx) => {
      for (const id of await parkedCopies(tx, parkingQueue(r.capability), r.idempotencyKey))
        if (await lockLive(tx, id)) await this.o.queues.cancel(id, { tx });
    });
    // A pinned step is on its agent's queue at once (route 1): not started yet, it is not needed.
    if (r.agentId !== undefined)
      await withdrawQueued(this.o.store, this.o.queues, this.o.queueOf(r.agentId), `${r.idempotencyKey}#1`);
  }

  /** True when a task payload is a dispatched step (agents ask before settling). */
  isDispatched(payload: unknown): boolean {
    return isDispatchedTask(payload);
  }

  /**
   * Journals an agent's outcome for a dispatched step. Idempotent: a step answered already (by an
   * earlier route of it, or an earlier try of this task) is left as it is. Rejects with `invalid_input`
   * for a payload that is not a dispatched step or a malformed outcome; nothing is journaled then.
   */
  async settle(payload: unknown, outcome: DispatchOutcome): Promise<void> {
    const task = dispatchedTaskSchema.safeParse(payload);
    if (!task.success)
      throw new ValidationError(`not a dispatched task: ${describeIssues(task.error.issues)}`);
    const result = dispatchOutcomeSchema.safeParse(outcome);
    if (!result.success)
      throw new ValidationError(`invalid dispatch outcome: ${describeIssues(result.error.issues)}`);
    const d = task.data.dispatch;
    const results = this.o.results();
    const applied = result.data.ok
      ? await results.completeDispatched(d.workflowId, d.stepIndex, result.data.output)
      : await results.failDispatched(d.workflowId, d.stepIndex, result.data.error);
    if (applied) this.counts.settled += 1;
    else this.counts.lateAnswers += 1;
  }

  /**
   * Routes parked steps to agents that can now take them, and moves the steps of agents that are gone
   * or unhealthy. Concurrent calls share one sweep (and ask for one more after it).
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
        await this.moveStranded();
        await this.rebalance();
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
   * The healthy agent with the capability and the fewest tasks in hand — among those with `requires`
   * free, greedily: each step takes the least loaded agent it fits on — or none; `capable` counts the
   * healthy agents with the capability. The choice is counted in `inFlight` until its hand-off has
   * committed (the caller releases it).
   */
  private async pick(
    capability: string,
    requires?: Requirements,
    skip?: ReadonlySet<string>,
  ): Promise<{ chosen: Choice | undefined; capable: number }> {
    const capable = await this.o.registry.findCapableHealthy(capability);
    let agents = capable.filter((a) => skip === undefined || !skip.has(a.id));
    if (requires !== undefined && agents.length > 0) {
      const reserved = await reservedOn(
        this.o.store,
        agents.map((a) => this.o.queueOf(a.id)),
      );
      agents = agents.filter((a) => fits(a.resources, reserved.get(this.o.queueOf(a.id)), requires));
    }
    if (agents.length === 0) return { chosen: undefined, capable: capable.length };
    const loads = await queueLoads(
      this.o.store,
      agents.map((a) => this.o.queueOf(a.id)),
    );
    let least = Infinity;
    let ties: Choice[] = [];
    for (const a of agents) {
      const load = (loads.get(this.o.queueOf(a.id)) ?? 0) + (this.inFlight.get(a.id) ?? 0);
      if (load < least) {
        least = load;
        ties = [{ id: a.id, offers: a.resources }];
      } else if (load === least) ties.push({ id: a.id, offers: a.resources });
    }
    // Equally loaded agents take turns, so an idle team shares the work.
    const chosen = ties[this.turn++ % ties.length];
    // Counted before any await, so concurrent dispatches see each other's choices.
    if (chosen !== undefined) this.inFlight.set(chosen.id, (this.inFlight.get(chosen.id) ?? 0) + 1);
    return { chosen, capable: capable.length };
  }

  private release(agentId: string | undefined): void {
    if (agentId === undefined) return;
    const left = (this.inFlight.get(agentId) ?? 1) - 1;
    if (left <= 0) this.inFlight.delete(agentId);
    else this.inFlight.set(agentId, left);
  }

  /** Moves a step found by a sweep to `route`; parks it when no agent can take it and `park` is set. */
  private async handOn(
    found: FoundTask,
    route: number,
    park: boolean,
  ): Promise<'routed' | 'parked' | 'stay'> {
    const { agentId: _previous, ...info } = found.task.dispatch;
    const { chosen, capable } = await this.pick(info.capability, info.requires);
    if (chosen === undefined && !park) return 'stay';
    try {
      const moved = await this.moveTo(found, chosen, route);
      // Not moved: finished, or moved by another sweep meanwhile; either way it is not ours any more.
      // Or the chosen agent's capacity was taken meanwhile: the next sweep tries again.
      if (moved !== 'moved') return 'stay';
      await this.noteWait(info.workflowId, info.stepIndex, info.capability, chosen?.id, {
        capable,
        requires: info.requires,
      });
    } finally {
      this.release(chosen?.id);
    }
    return chosen === undefined ? 'parked' : 'routed';
  }

  /**
   * Moves a found step to `agent` (parks it when undefined) under route `route`, in one transaction.
   * With `queuedOnly`, a step its agent started meanwhile stays (rebalancing takes only waiting work).
   */
  private async moveTo(
    found: FoundTask,
    agent: Choice | undefined,
    route: number,
    queuedOnly = false,
  ): Promise<'moved' | 'gone' | 'taken'> {
    const { agentId: _previous, ...info } = found.task.dispatch;
    const to: Destination = {
      queue: agent === undefined ? parkingQueue(info.capability) : this.o.queueOf(agent.id),
      key: `${info.idempotencyKey}#${route}`,
      payload: { ...found.task, dispatch: { ...info, agentId: agent?.id ?? PARKED, route } },
    };
    try {
      return await this.o.store.transaction(async (tx) => {
        if (
          agent !== undefined &&
          info.requires !== undefined &&
          !(await stillFits(tx, to.queue, agent.offers, info.requires))
        )
          throw new CapacityTaken();
        const moved = await moveStep(
          tx,
          this.o.queues,
          found.id,
          to,
          info.maxAttempts ?? this.maxAttempts,
          queuedOnly,
        );
        return moved ? 'moved' : 'gone';
      });
    } catch (error) {
      if (error instanceof CapacityTaken) return 'taken';
      throw error;
    }
  }

  private async routeParked(): Promise<void> {
    for (const queue of await parkingQueues(this.o.store)) {
      for (const found of await parkedSteps(this.o.store, queue, this.sweepBatch)) {
        // A parked step keeps its route number: its key on the agent's queue is still unused.
        const done = await this.handOn(found, found.task.dispatch.route, false);
        if (done === 'routed') this.counts.routed += 1;
        // No agent for this capability now (or another node is routing this queue): next sweep. A step
        // that requires resources may wait while a smaller one behind it fits.
        if (done === 'stay' && found.task.dispatch.requires === undefined) break;
      }
    }
  }

  private async moveStranded(): Promise<void> {
    const stranded = await strandedSteps(
      this.o.store,
      this.o.agentQueuePrefix,
      this.o.clock.now(),
      this.sweepBatch,
    );
    for (const found of stranded) {
      if (found.task.dispatch.pinned === true) {
        if (await failStranded(this.o.store, this.o.queues, this.o.results(), found))
          this.counts.unavailable += 1;
        continue;
      }
      const done = await this.handOn(found, found.task.dispatch.route + 1, true);
      if (done === 'stay') continue;
      this.counts.rerouted += 1;
      this.counts[done] += 1;
    }
  }

  /**
   * Moves queued steps from the busiest healthy agent of each capability to the least loaded one while
   * the first holds at least `rebalanceThreshold` more tasks (queued and running) than the second:
   * newest steps first (the busy agent keeps those it would run next), only steps not started, and a
   * step that requires resources only to an agent with them free. At most `sweepBatch` moves a sweep.
   */
  private async rebalance(): Promise<void> {
    if (!this.rebalanceOn) return;
    const healthy = await this.o.registry.findByHealth('healthy');
    if (healthy.length < 2) return;
    const loads = await queueLoads(
      this.o.store,
      healthy.map((a) => this.o.queueOf(a.id)),
    );
    const load = (id: string) => (loads.get(this.o.queueOf(id)) ?? 0) + (this.inFlight.get(id) ?? 0);
    const shift = (id: string, by: number) =>
      loads.set(this.o.queueOf(id), (loads.get(this.o.queueOf(id)) ?? 0) + by);
    let budget = this.sweepBatch;
    for (const capability of new Set(healthy.flatMap((a) => a.capabilities))) {
      const team = healthy.filter((a) => a.capabilities.includes(capability));
      if (team.length < 2) continue;
      // The queued steps of this capability each busy agent could give, newest first (read once).
      const movable = new Map<string, FoundTask[]>();
      while (budget > 0) {
        const byLoad = [...team].sort((a, b) => load(a.id) - load(b.id));
        const donor = [...byLoad].reverse().find((a) => movable.get(a.id)?.length !== 0);
        if (donor === undefined || load(donor.id) - load(byLoad[0]!.id) < this.threshold) break;
        const steps = movable.get(donor.id);
        if (steps === undefined) {
          const limit = Math.min(budget, load(donor.id));
          movable.set(donor.id, await queuedSteps(this.o.store, this.o.queueOf(donor.id), capability, limit));
          continue;
        }
        const step = steps.shift()!;
        budget -= 1;
        const receiver = await this.giveAway(step, donor.id, byLoad, load);
        if (receiver === undefined) continue;
        shift(donor.id, -1);
        shift(receiver, 1);
        this.counts.rebalanced += 1;
        const d = step.task.dispatch;
        await this.noteWait(d.workflowId, d.stepIndex, d.capability, receiver);
      }
    }
  }

  /**
   * Moves a queued step of `donor` to the least loaded agent of `byLoad` (ascending) that holds at least
   * the threshold fewer tasks and has the resources the step requires free; the agent's id, or undefined
   * when none could take it (or the step started or moved meanwhile).
   */
  private async giveAway(
    step: FoundTask,
    donor: string,
    byLoad: readonly Agent[],
    load: (id: string) => number,
  ): Promise<string | undefined> {
    const requires = step.task.dispatch.requires;
    for (const to of byLoad) {
      if (to.id === donor || load(donor) - load(to.id) < this.threshold) return undefined;
      // An agent that does not offer the resource at all is not asked.
      if (requires !== undefined && !fits(to.resources, undefined, requires)) continue;
      const moved = await this.moveTo(
        step,
        { id: to.id, offers: to.resources },
        step.task.dispatch.route + 1,
        true,
      );
      if (moved === 'moved') return to.id;
      if (moved === 'gone') return undefined;
    }
    return undefined;
  }
}

/** Why a step parked, for the note on its journal entry. */
interface WhyParked {
  /** Healthy agents with the capability when it was routed. */
  readonly capable?: number;
  readonly requires?: Requirements | undefined;
}

export function createTaskDistributor(options: TaskDistributorOptions): TaskDistributor {
  return new TaskDistributor(options);
}
