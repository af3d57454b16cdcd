/**
 * The graceful drain of a node (`node.stop()`, SIGTERM through `garrison worker` / `garrison serve`), in
 * order:
 *
 * 1. Nothing new is claimed, at once: no workflow run is launched here, the distributor stops sweeping,
 *    durable timers stop firing here (the cron leadership is given up), and every agent's consumer stops
 *    taking tasks. The node's agents are marked `unhealthy`, so no distributor routes a step to them and
 *    the steps still queued on them are moved to other agents at once; the node is marked `draining`.
 * 2. Work in hand finishes until `drainTimeoutMs`: running agent tasks, workflow runs executing a step
 *    here (`running`), durable timer firings. The drain goes on as soon as all of it is done.
 * 3. At the deadline, what is still held is handed back: the agents' running tasks are aborted and their
 *    leases given back to their queues (a started task keeps the attempt it used, as with any hand-back
 *    of the queue), the agents' registry entries go, the runs' leases are ended, and the coordination
 *    leases of the node's processes are freed — so other nodes take everything over at once, without
 *    waiting for a lease to expire. A step on an agent of this node is moved by the other nodes'
 *    distributors; a task sent to the agent itself waits, queued, for the agent's next start.
 * 4. The report (`node.drained`): what finished, what was handed back, and what is left (nothing unless
 *    the store failed meanwhile: that then expires on its own). The node is then marked `down`.
 */
import { releaseNodeLeases } from '../coordination/index.js';
import type { AgentRegistry } from '../registry/index.js';
import type { Clock, TimerHandle } from '../runtime/index.js';
import { bindList, type Store } from '../store/index.js';
import type { EventBus, GarrisonEvents } from '../telemetry/index.js';
import { countHeld, heldByNode, type NodeHoldings } from './held.js';
import { setNodeState } from './membership.js';

declare module '../telemetry/events.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends DrainEvents {}
}

/** Events of a node's drain. */
export interface DrainEvents {
  /** The node claims nothing new; `held` is what it had in hand then. `deadline`: UNIX epoch ms. */
  'node.draining': { readonly node: string; readonly deadline: number; readonly held: NodeHoldings };
  /** The drain is over: what finished, what was handed back, what is left. */
  'node.drained': DrainReport;
}

export interface DrainReport {
  readonly node: string;
  /** True when the deadline came before the work in hand had finished. */
  readonly timedOut: boolean;
  /** From the start of the drain to the end of the hand-back, in ms. */
  readonly durationMs: number;
  /** Held when the drain began, finished here during it. */
  readonly finished: { readonly tasks: readonly number[]; readonly workflowRuns: readonly string[] };
  /** Given back for other nodes to take over at once. */
  readonly handedBack: {
    readonly tasks: readonly number[];
    readonly workflowRuns: readonly string[];
    readonly agents: readonly string[];
    /** Coordination locks and leaderships of the node's processes, as `kind:name`. */
    readonly coordinationLeases: readonly string[];
    /** Whether the node led cron (the leader lock) when the drain began. */
    readonly cronLeadership: boolean;
  };
  /** Still held after the hand-back: empty unless the store failed; it expires on its own. */
  readonly left: NodeHoldings;
}

/** What the drain asks of the node's parts. */
export interface DrainParts {
  /** True while this node leads cron. */
  isCronLeader(): boolean;
  /**
   * Stops every claim now. Answers the work in hand, settled once it is over: the agents' (their running
   * tasks, handed back by the agents themselves after `timeoutMs`) and the others' (durable timer
   * firings, a distributor sweep in progress).
   */
  stopClaiming(timeoutMs: number): { readonly agents: Promise<unknown>; readonly others: Promise<unknown> };
  /** Stops the supervision tree and the runtime: the workflow servers end and their runs' leases with them. */
  stopTree(): Promise<void>;
}

export interface DrainOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly nodeId: string;
  readonly registry: AgentRegistry;
  readonly events: EventBus<GarrisonEvents>;
  /** How long work in hand may take to finish, in ms. */
  readonly timeoutMs: number;
  readonly parts: DrainParts;
}

/** How often the drain looks whether the runs executing here have stopped executing, in ms. */
const RUNS_POLL_MS = 100;

export async function drainNode(o: DrainOptions): Promise<DrainReport> {
  const { store, clock, nodeId } = o;
  const startedAt = clock.now();
  const deadline = startedAt + o.timeoutMs;
  const cronLeadership = o.parts.isCronLeader();
  // Read before and after claims stop: what was in hand, whether it finishes at once or a claim was in flight.
  const first = await heldByNode(store, nodeId, startedAt);
  const inHand = o.parts.stopClaiming(o.timeoutMs);
  await markAgentsDraining(o.registry, nodeId);
  await setNodeState(store, nodeId, 'draining', clock.now());
  const before = union(first, await heldByNode(store, nodeId, clock.now()));
  o.events.emit('node.draining', { node: nodeId, deadline, held: before });

  const finishedInTime = await untilDone(clock, deadline, Promise.all([inHand.agents, inHand.others]), () =>
    executingRuns(store, nodeId, clock.now()),
  );

  await o.parts.stopTree();
  const coordinationLeases = await releaseNodeLeases(store, nodeId);
  await unregisterAgents(o.registry, nodeId);
  const left = await heldByNode(store, nodeId, clock.now());
  const report: DrainReport = {
    node: nodeId,
    timedOut: !finishedInTime,
    durationMs: clock.now() - startedAt,
    ...(await sortOut(store, before, left)),
    left,
  };
  const handedBack = { ...report.handedBack, coordinationLeases, cronLeadership };
  const final = { ...report, handedBack };
  o.events.emit('node.drained', final);
  return final;
}

/**
 * Waits for `work` and then for no run to be executing here, until `deadline`. True when all of it was
 * done in time. Every timer it makes is cancelled before it returns.
 */
async function untilDone(
  clock: Clock,
  deadline: number,
  work: Promise<unknown>,
  executing: () => Promise<number>,
): Promise<boolean> {
  let expired = false;
  let deadlineTimer: TimerHandle | undefined;
  let pollTimer: TimerHandle | undefined;
  const expiry = new Promise<void>((resolve) => {
    deadlineTimer = clock.setTimer(deadline - clock.now(), () => {
      expired = true;
      resolve();
    });
  });
  try {
    await Promise.race([work.catch(() => undefined), expiry]);
    while (!expired) {
      if ((await executing().catch(() => 0)) === 0) break;
      await Promise.race([
        new Promise<void>((resolve) => {
          pollTimer = clock.setTimer(RUNS_POLL_MS, resolve);
        }),
        expiry,
      ]);
      pollTimer?.cancel();
    }
    return !expired;
  } finally {
    deadlineTimer?.cancel();
    pollTimer?.cancel();
  }
}

/** Runs this node executes a step of right now (a sleeping or waiting run holds nothing in progress). */
async function executingRuns(store: Store, nodeId: string, now: number): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE owner = $1 AND status = 'running' AND lease_until > $2",
    [nodeId, now],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The node's agents take no new step: distributors route around them and move what waits on them. */
async function markAgentsDraining(registry: AgentRegistry, nodeId: string): Promise<void> {
  for (const agent of await registry.findByNode(nodeId)) {
    await registry
      .update(agent.id, (current) => ({
        health: 'unhealthy',
        metadata: { ...current.metadata, draining: true },
      }))
      .catch((error: unknown) => {
        // Unregistered meanwhile (its process ended): nothing to mark.
        if ((error as { code?: string }).code !== 'agent_not_found') throw error;
      });
  }
}

/** Removes the registry entries still naming this node (agents no process of it runs any more). */
async function unregisterAgents(registry: AgentRegistry, nodeId: string): Promise<void> {
  for (const agent of await registry.findByNode(nodeId)) {
    await registry.unregister(agent.id, { reason: 'node_drained' }).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'agent_not_found') throw error;
    });
  }
}

function union(a: NodeHoldings, b: NodeHoldings): NodeHoldings {
  const merge = <T extends string | number>(x: readonly T[], y: readonly T[]) => [...new Set([...x, ...y])];
  return {
    tasks: merge(a.tasks, b.tasks),
    workflowRuns: merge(a.workflowRuns, b.workflowRuns),
    coordinationLeases: merge(a.coordinationLeases, b.coordinationLeases),
    agents: merge(a.agents, b.agents),
    timerClaims: merge(a.timerClaims, b.timerClaims),
  };
}

/** What became of the tasks and runs held when the drain began: finished here, or handed back. */
async function sortOut(
  store: Store,
  before: NodeHoldings,
  left: NodeHoldings,
): Promise<Pick<DrainReport, 'finished' | 'handedBack'>> {
  const stillHeld = new Set<number | string>([...left.tasks, ...left.workflowRuns]);
  const tasks = before.tasks.filter((id) => !stillHeld.has(id));
  const runs = before.workflowRuns.filter((id) => !stillHeld.has(id));
  // Each list is bound as one parameter: a node may have held thousands.
  const taskIn = bindList(store.dialect, 'id', 'integer', tasks, 1);
  const taskRows =
    tasks.length === 0
      ? []
      : await store.query<{ id: number | string; state: string }>(
          `SELECT id, state FROM garrison_tasks WHERE ${taskIn.sql}`,
          [taskIn.param],
        );
  const runIn = bindList(store.dialect, 'id', 'text', runs, 1);
  const runRows =
    runs.length === 0
      ? []
      : await store.query<{ id: string; status: string }>(
          `SELECT id, status FROM garrison_workflow_runs WHERE ${runIn.sql}`,
          [runIn.param],
        );
  // A task given back is queued again, moved to another agent (cancelled here), or running elsewhere; a
  // finished one was deleted, retained as completed, or dead-lettered.
  const taskState = new Map(taskRows.map((r) => [Number(r.id), r.state]));
  const back = (id: number) => ['queued', 'running', 'cancelled'].includes(taskState.get(id) ?? '');
  const runStatus = new Map(runRows.map((r) => [r.id, r.status]));
  const active = (id: string) =>
    ['pending', 'running', 'sleeping', 'waiting'].includes(runStatus.get(id) ?? '');
  return {
    finished: { tasks: tasks.filter((id) => !back(id)), workflowRuns: runs.filter((id) => !active(id)) },
    handedBack: {
      tasks: tasks.filter(back),
      workflowRuns: runs.filter(active),
      agents: before.agents.filter((id) => !left.agents.includes(id)),
      coordinationLeases: [],
      cronLeadership: false,
    },
  };
}

/** One line for a log: what the drain finished and handed back. */
export function describeDrain(r: DrainReport): string {
  const b = r.handedBack;
  const parts = [
    `finished ${r.finished.tasks.length} tasks and ${r.finished.workflowRuns.length} runs`,
    `handed back ${b.tasks.length} tasks, ${b.workflowRuns.length} runs, ${b.agents.length} agents, ` +
      `${b.coordinationLeases.length} coordination leases${b.cronLeadership ? ', the cron leadership' : ''}`,
  ];
  if (countHeld(r.left) > 0) parts.push(`${countHeld(r.left)} still held (they expire on their own)`);
  return `${r.timedOut ? 'deadline reached' : 'all work in hand finished'} after ${r.durationMs} ms: ${parts.join('; ')}`;
}
