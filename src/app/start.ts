/**
 * Runs an application on a node: opens the store, builds the app (a factory gets the store), starts the
 * node with its workflows and agent types, starts its agents, a worker per queue and its cron schedules.
 * `stop()` drains everything — the node's drain and the queue workers' graceful stop, both bounded by
 * `drainTimeoutMs` — then closes the store.
 */
import { TaskOutcomes } from '../agents/index.js';
import { GarrisonError } from '../errors.js';
import { startNode, type DrainReport, type GarrisonNode, type NodeConfigInput } from '../node/index.js';
import { BreakerRegistry } from '../resilience/index.js';
import { systemClock, type Clock } from '../runtime/index.js';
import { openStore, type Store } from '../store/index.js';
import { createWorker, type Worker } from '../work/index.js';
import type { AppSchedule, GarrisonApp, ResolvedApp } from './define.js';

export interface StartAppOptions {
  /** Node settings; they override the app's `config`. `store` is the store URL. */
  readonly config?: NodeConfigInput;
  /** An open store to use instead of `config.store` (it is not closed by `stop`). */
  readonly store?: Store;
  /** Default the system clock. */
  readonly clock?: Clock;
  /** Agents of each type to start, instead of each type's `count` (types with fixed `ids` keep them). */
  readonly agentsPerType?: number;
  /**
   * Runs once the node is up, before the app's queue workers, schedules and agents start (e.g. to make
   * a batch of runs durable before any step of them can run). A failure stops the node.
   */
  readonly beforeStart?: (node: GarrisonNode) => Promise<void>;
}

export interface RunningApp {
  readonly node: GarrisonNode;
  readonly app: ResolvedApp;
  /** Ids of the agents started (or found resumed) on this node. */
  readonly agentIds: readonly string[];
  /** Drains the node and the queue workers, then closes the store (unless it was given). */
  stop(): Promise<DrainReport>;
}

/** The durable timer id of an application schedule. */
export const scheduleTimerId = (name: string) => `app:${name}`;

async function startSchedules(node: GarrisonNode, schedules: readonly AppSchedule[]): Promise<void> {
  for (const s of schedules) {
    const id = scheduleTimerId(s.name);
    node.timers.on(id, async (firing) => {
      if (s.workflow !== undefined)
        await node.workflows.start(s.workflow, s.input ?? {}, { workflowId: `${s.name}:${firing.dueAt}` });
      await s.run?.(firing, { node });
    });
    // Rewritten only when it changed: a rewrite would reset a firing another node holds.
    const current = await node.timers.get(id);
    const missed = s.missedPolicy ?? 'run_once';
    if (current?.cron === s.cron && current.topic === id && current.missedPolicy === missed) continue;
    await node.timers.schedule({
      id,
      topic: id,
      cron: s.cron,
      missedPolicy: missed,
      ...(s.timezone === undefined ? {} : { timezone: s.timezone }),
    });
  }
}

async function startAgents(node: GarrisonNode, app: ResolvedApp, perType?: number): Promise<string[]> {
  const ids: string[] = [];
  for (const a of app.agents) {
    const count = perType ?? a.count;
    const wanted =
      a.ids ?? Array.from({ length: count }, (_, i) => `${a.definition.type}-${node.id}-${i + 1}`);
    for (const id of wanted) {
      ids.push(id);
      if (node.agents.resumed.includes(id)) continue;
      try {
        await node.agents.start(a.definition, { id });
      } catch (error) {
        // A fixed id already running (here or on another node) is the one agent of that id: keep it.
        const code = (error as { code?: unknown }).code;
        if (code !== 'agent_running' && code !== 'agent_running_elsewhere') throw error;
      }
    }
  }
  return ids;
}

/** Starts `app` on a new node; fails (with everything started so far stopped) if any part fails. */
export async function startApp(app: GarrisonApp, options: StartAppOptions = {}): Promise<RunningApp> {
  const clock = options.clock ?? systemClock;
  const ownsStore = options.store === undefined;
  const store = options.store ?? (await openStore(options.config?.store));
  const breakers = new BreakerRegistry({ clock });
  let resolved: ResolvedApp;
  let node: GarrisonNode;
  try {
    resolved = await app.resolve({ store, clock, breakers });
    node = await startNode({
      store,
      clock,
      breakers,
      config: { ...resolved.config, ...options.config },
      workflows: resolved.workflows,
      agents: resolved.agents.map((a) => a.definition),
      // Published with the heartbeat: the queues this node's workers (started below) consume.
      queues: resolved.queues.map((q) => q.queue.name),
    });
  } catch (error) {
    if (ownsStore) await store.close();
    throw error;
  }
  const workers: Worker<unknown>[] = [];
  const stopAll = async (): Promise<DrainReport> => {
    const timeoutMs = node.config.drainTimeoutMs;
    try {
      const [report] = await Promise.all([node.stop(), ...workers.map((w) => w.stop({ timeoutMs }))]);
      return report;
    } finally {
      if (ownsStore) await store.close();
    }
  };
  let agentIds: string[];
  try {
    await options.beforeStart?.(node);
    for (const q of resolved.queues) {
      // Each settled attempt is `task.finished` on the node's bus, as the agents' queues report theirs.
      const outcomes = new TaskOutcomes(node.events, clock);
      const worker = createWorker<unknown>({
        store,
        clock,
        queues: q.queue,
        handler: (task, context) => {
          outcomes.started(task.id);
          return q.handler(task, context);
        },
        workerId: `${node.id}:${q.queue.name}`,
        ...(q.concurrency === undefined ? {} : { concurrency: q.concurrency }),
        ...(q.leaseMs === undefined ? {} : { leaseMs: q.leaseMs }),
      });
      outcomes.watch(worker);
      workers.push(worker);
      await worker.start();
    }
    await startSchedules(node, resolved.schedules);
    agentIds = await startAgents(node, resolved, options.agentsPerType);
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error instanceof GarrisonError
      ? error
      : new GarrisonError('app_start_failed', `the application failed to start: ${String(error)}`, {
          cause: error,
        });
  }
  let stopping: Promise<DrainReport> | undefined;
  return {
    node,
    app: resolved,
    agentIds,
    stop: () => (stopping ??= stopAll()),
  };
}
