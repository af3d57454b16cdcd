/**
 * A Garrison node: the store, the runtime and the one supervision tree of `tree.ts`, built by one
 * function for production and tests alike. Tests may pass a store, a clock and a node name — nothing
 * else about the tree can differ (seed flaw 6).
 */
import type { AgentDefinition, AgentHost } from '../agents/index.js';
import { agentQueueName, createAgentHost, errorPausedAgentsCheck } from '../agents/index.js';
import {
  createMetricsCollector,
  createHealthMonitor,
  createMonitorLeakWatch,
  monitorLeaksCheck,
  createTaskDistributor,
  type TaskDistributor,
  createWorkflowSupervisor,
  type MetricsCollector,
  type WorkflowSupervisor,
} from '../coordination/index.js';
import {
  createHealthChecks,
  createResourceManager,
  resourcesCheck,
  type ResourceManager,
  migrationsCurrentCheck,
  schedulerRunningCheck,
  storeReachableCheck,
  type HealthChecks,
} from '../governance/index.js';
import { createRegistry, type AgentRegistry } from '../registry/index.js';
import { BreakerRegistry, RetryBudgetRegistry, retryBudgetsCheck } from '../resilience/index.js';
import {
  createRuntime,
  Supervisor,
  systemClock,
  type Clock,
  type Runtime,
  type SupervisorDescription,
} from '../runtime/index.js';
import { createScheduler, type DurableTimers, type SchedulerManager } from '../scheduler/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  bindMetricsToBus,
  bindWorkMetrics,
  bindRuntimeMetrics,
  emitMailboxDepths,
  runtimeEventsToBus,
  trackBreakers,
  createEventBus,
  createMetrics,
  type EventBus,
  type GarrisonEvents,
  type Metrics,
} from '../telemetry/index.js';
import {
  admitEnqueues,
  createQueueClient,
  type QueueClient,
  type WorkflowDefinition,
  type WorkflowEngine,
} from '../work/index.js';
import { createCoordinationPrimitives, type CoordinationPrimitives } from '../coordination/index.js';
import { parseNodeConfig, type NodeConfig, type NodeConfigInput } from './config.js';
import { drainNode, type DrainReport } from './drain.js';
import { heartbeat, joinCluster, setNodeState } from './membership.js';
import { thisProcess } from './process-identity.js';
import { recoveryLook } from './recovery.js';
import { startRetention, type RetentionReport } from './retention.js';
import { servesOf } from './serves.js';
import { ServiceTable } from './service.js';
import { nodeTree, SERVICE_SHUTDOWN_MS, type NodeParts } from './tree.js';

const HEARTBEAT = 'garrison.node.heartbeat';

declare module '../telemetry/events.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GarrisonEvents extends NodeEvents {}
}

/** Events of the node itself. */
export interface NodeEvents {
  /** A killed service's component failed to stop (its resources may be held until the node stops). */
  'node.service_stop_failed': { readonly error: unknown };
  /** The retention purge ran on this node: what it deleted (docs/node.md, "Retention"). */
  'node.retention_purged': RetentionReport;
}
const SWEEP = 'garrison.distributor.sweep';
const HEALTH_CHECK = 'garrison.health.check';
/** How often parked steps and the work of vanished agents are looked for, besides registry changes. */
const DISTRIBUTOR_SWEEP_MS = 1000;

export interface StartNodeOptions {
  /** Settings (validated): the store URL, limits, leases. Default: all defaults. */
  readonly config?: NodeConfigInput;
  /** An open store to use instead of `config.store` (tests: a temporary store). The node does not close it. */
  readonly store?: Store;
  /** Time for everything in the node (tests: a `VirtualClock`). Default the system clock. */
  readonly clock?: Clock;
  /** Overrides `config.nodeName`. */
  readonly nodeName?: string;
  /** Workflows this node executes. */
  readonly workflows?: ReadonlyArray<WorkflowDefinition<unknown, unknown>>;
  /** Agent types this node runs (agents recorded as running here are resumed at start-up). */
  readonly agents?: readonly AgentDefinition[];
  /**
   * Queues whose tasks workers beside this node consume (an application's queue workers), published with
   * every heartbeat: a queued task on a queue no live node lists shows `no_live_consumer`. Default none.
   */
  readonly queues?: readonly string[];
  /** The circuit breakers of the node's external calls (listed and reset through the API). Default: new. */
  readonly breakers?: BreakerRegistry;
  /** The retry budgets of the node's external calls (a denying one makes health degraded). Default: new. */
  readonly retryBudgets?: RetryBudgetRegistry;
}

export interface GarrisonNode {
  readonly id: string;
  readonly config: NodeConfig;
  readonly store: Store;
  readonly clock: Clock;
  readonly runtime: Runtime;
  readonly events: EventBus<GarrisonEvents>;
  readonly metrics: Metrics;
  readonly registry: AgentRegistry;
  /** Enqueues refused past `tasks.maxQueued` waiting tasks or a memory limit; the rest as the queue client. */
  readonly queues: QueueClient;
  /** The one scheduler: process timers and durable timers. */
  readonly scheduler: SchedulerManager;
  readonly timers: DurableTimers;
  readonly breakers: BreakerRegistry;
  /** Retry budgets by name: one denying retries shows in `health` (check `retry_budgets`). */
  readonly retryBudgets: RetryBudgetRegistry;
  /** Start, list, cancel, signal workflow runs; the workflow supervisor executes them. */
  readonly workflows: WorkflowEngine;
  readonly workflowSupervisor: WorkflowSupervisor;
  readonly distributor: TaskDistributor;
  readonly agents: AgentHost;
  readonly metricsCollector: MetricsCollector;
  /** The node's health checks (store reachable, migrations current, scheduler running, resources). */
  readonly health: HealthChecks;
  /** The node's resource limits, tokens and usage. */
  readonly resources: ResourceManager;
  /**
   * Locks, leader election (with watches), barriers, consensus and resource pools, kept in the store;
   * leases its processes held in an earlier life of the node are freed at start-up (`recover`).
   */
  readonly coordination: CoordinationPrimitives;
  /** The running tree, as plain data (compare with `describeNodeTree`). */
  describe(): Promise<SupervisorDescription>;
  /**
   * Graceful stop (see `drain.ts`): claims nothing new, lets the work in hand finish until
   * `drainTimeoutMs`, hands back what is still held, stops the tree and marks the node down. Resolves
   * with what finished and what was handed back (also emitted as `node.drained`). A second call waits
   * for the first.
   */
  stop(): Promise<DrainReport>;
}

/**
 * Starts a node: opens (and migrates) the store unless one is given, joins the cluster, and starts the
 * supervision tree. Resolves once every part runs; a part that fails to start stops the ones already
 * started and fails this with the cause.
 */
export async function startNode(options: StartNodeOptions = {}): Promise<GarrisonNode> {
  const config = parseNodeConfig({
    ...options.config,
    ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
  });
  const clock = options.clock ?? systemClock;
  const ownsStore = options.store === undefined;
  const store = options.store ?? (await openStore(config.store));
  const nodeId = config.nodeName;
  const events = createEventBus<GarrisonEvents>({ clock });
  const metrics = createMetrics({ defaultLabels: { node: nodeId } });
  const table = new ServiceTable();
  const toBus = runtimeEventsToBus(events);
  bindMetricsToBus(events, metrics);
  const unbindWork = bindWorkMetrics(metrics);
  bindRuntimeMetrics(events, metrics);
  const runtime = createRuntime({
    clock,
    events: (event) => {
      toBus(event);
      // A service process ended by `kill` skips `terminate`: stop its component here.
      if (event.type === 'exit' && event.reason === 'killed')
        table.reap(event.pid).catch((error: unknown) => events.emit('node.service_stop_failed', { error }));
    },
  });
  const registry = createRegistry({ store, clock, events });
  const queues = createQueueClient({ store, clock });
  const scheduler = createScheduler({ store, clock, runtime, nodeId, events });
  const timers = scheduler.durable;
  const breakers = options.breakers ?? new BreakerRegistry({ clock });
  trackBreakers(metrics, breakers);
  // Mailbox depths are sampled when metrics are scraped (the runtime reports nothing per message).
  metrics.beforeRender(() => {
    emitMailboxDepths(events, runtime);
  });
  const distributor = createTaskDistributor({
    store,
    registry,
    queues,
    clock,
    queueOf: agentQueueName,
    agentQueuePrefix: agentQueueName(''),
    rebalance: config.distributor.rebalance,
    rebalanceThreshold: config.distributor.rebalanceThreshold,
    // Called only when an agent settles a step, long after the supervisor below exists.
    results: () => workflowSupervisor.engine,
  });
  const workflowSupervisor = createWorkflowSupervisor({
    runtime,
    store,
    nodeId,
    dispatcher: distributor,
    workflows: options.workflows ?? [],
    maxRunning: config.workflows.maxConcurrent,
    leaseMs: config.workflows.leaseMs,
    events,
  });
  let agents: AgentHost | undefined;
  /** Set when the drain begins: parts restarted from then on claim nothing. */
  let draining = false;
  /** Agents started through this node whose process is alive: the `agents` resource. */
  const startedAgents = new Set<string>();
  const liveAgents = () =>
    [...startedAgents].filter((id) => {
      const pid = agents?.pidOf(id);
      return pid !== undefined && runtime.isAlive(pid);
    }).length;
  const resources = createResourceManager({
    runtime,
    clock,
    events,
    gauges: { agents: liveAgents },
    // Admission reads the current figure: the agents count changes with every start.
    gaugeTtlMs: 0,
    ...(config.limits === undefined ? {} : { limits: config.limits }),
  });
  const engine = workflowSupervisor.engine;
  /** Past a memory or process limit, new runs are refused with `resource_exhausted`, nothing written. */
  const admitRun = () => {
    resources.guard('heap_bytes', 0);
    resources.guard('rss_bytes', 0);
    resources.guard('processes');
  };
  const workflows = new Proxy(engine, {
    get(target, property) {
      if (property === 'start')
        return async (...args: Parameters<WorkflowEngine['start']>) => {
          admitRun();
          return target.start(...args);
        };
      // A batch is admitted as one start: refused whole, nothing written, past a limit.
      if (property === 'startMany')
        return async (...args: Parameters<WorkflowEngine['startMany']>) => {
          admitRun();
          return target.startMany(...args);
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  /**
   * What callers from outside enqueue through (the API): refused past `tasks.maxQueued` waiting tasks
   * (`queue_full`) or a memory limit (`resource_exhausted`), nothing written. The node's own parts keep
   * the plain client: their enqueues move work already admitted.
   */
  const admittedQueues = admitEnqueues(queues, {
    store,
    clock,
    maxQueued: config.tasks.maxQueued,
    guard: () => {
      resources.guard('heap_bytes', 0);
      resources.guard('rss_bytes', 0);
    },
  });
  const health = createHealthChecks({ clock, events });
  health.register(storeReachableCheck(store));
  health.register(migrationsCurrentCheck(store));
  health.register(schedulerRunningCheck(scheduler));
  health.register(resourcesCheck(resources));
  // Agents paused by a streak of failed tasks: degraded, with the reason, until resumed.
  health.register(errorPausedAgentsCheck(store));
  // Retry budgets denying retries, and monitors piling up (checked on the health monitor's tick).
  const retryBudgets = options.retryBudgets ?? new RetryBudgetRegistry({ clock, events });
  health.register(retryBudgetsCheck(retryBudgets));
  const monitorLeaks = createMonitorLeakWatch({ runtime, events, ...config.monitorLeaks });
  health.register(monitorLeaksCheck(monitorLeaks));
  /** What each heartbeat publishes in the node's row (read by `garrison status` on any machine). */
  // What this node serves, published with every heartbeat (work no live node can run is shown so).
  const serves = servesOf(options.workflows ?? [], options.agents ?? [], options.queues ?? []);
  const beatInfo = async () => {
    const summary = await health.run();
    return {
      pid: process.pid,
      serves,
      health: summary.status,
      reasons: summary.reasons,
      resources: Object.fromEntries(
        resources.usageAll().map((u) => [u.kind, { current: u.current, limit: u.limit }]),
      ),
    };
  };
  /** Takes over what dead nodes hold (docs/node.md, "Recovery"), at start-up and with each heartbeat. */
  const recoverDead = recoveryLook({
    store,
    nodeId,
    downAfterMs: config.downAfterMs,
    clock,
    self: thisProcess(),
    events,
  });
  const metricsCollector = createMetricsCollector({ runtime, store, name: 'metrics_collector', metrics });

  const parts: NodeParts = {
    scheduler: async () => {
      await scheduler.start();
      // Restarted while draining: timers keep beating, but no durable timer is claimed here any more.
      if (draining) await timers.stop();
      return { stop: () => scheduler.shutdown() };
    },
    membership: async (host) => {
      // Dead nodes' work is taken over before joining: the own row still shows a killed previous life.
      await recoverDead(true);
      await joinCluster(store, nodeId, clock.now(), { pid: process.pid, serves });
      scheduler.every(host.self, config.heartbeatMs, HEARTBEAT);
      return {
        handleInfo: async (msg) => {
          if (msg !== HEARTBEAT) return;
          await heartbeat(store, nodeId, clock.now(), await beatInfo());
          await recoverDead(false);
        },
        stop: () => Promise.resolve(),
        describe: () => ({ pid: host.self.toString() }),
      };
    },
    workflows: workflowSupervisor.childSpec(),
    taskDistributor: (host) => {
      if (!draining) distributor.reopen();
      const unwatch = registry.watch(() => distributor.nudge());
      scheduler.every(host.self, DISTRIBUTOR_SWEEP_MS, SWEEP);
      distributor.nudge();
      return Promise.resolve({
        handleInfo: (msg) => (msg === SWEEP && !draining ? distributor.sweep() : undefined),
        stop: () => {
          unwatch();
          return distributor.close();
        },
        describe: () => ({ ...distributor.stats() }),
      });
    },
    healthMonitor: (host) => {
      const monitor = createHealthMonitor({
        store,
        registry,
        clock,
        nodeId,
        isAlive: (agentId) => {
          const pid = agents?.pidOf(agentId);
          return pid !== undefined && runtime.isAlive(pid);
        },
        heartbeatMs: config.heartbeatMs,
        downAfterMs: config.downAfterMs,
        onTransition: (t) => events.emit('agent.health_changed', t),
      });
      scheduler.every(host.self, config.heartbeatMs, HEALTH_CHECK);
      return Promise.resolve({
        handleInfo: async (msg) => {
          if (msg !== HEALTH_CHECK) return;
          monitorLeaks.check();
          await monitor.check();
        },
        stop: () => Promise.resolve(),
      });
    },
    metricsCollector: metricsCollector.childSpec(),
    agents: async () => {
      const host = await Promise.resolve(
        createAgentHost({
          store,
          runtime,
          registry,
          queues,
          clock,
          nodeId,
          scheduler,
          distributor,
          leaseMs: config.tasks.leaseMs,
          definitions: options.agents ?? [],
          events,
          taskEvents: events,
        }),
      );
      for (const id of host.resumed) startedAgents.add(id);
      agents = new Proxy(host, {
        get(target, property) {
          if (property === 'start')
            return async (...args: Parameters<AgentHost['start']>) => {
              resources.guard('agents');
              const info = await target.start(...args);
              startedAgents.add(info.id);
              return info;
            };
          return Reflect.get(target, property, target) as unknown;
        },
      });
      return { stop: () => host.shutdown() };
    },
  };

  // Before the tree starts: what processes of this node's earlier life held is free for the new one.
  const coordination = createCoordinationPrimitives({ store, clock, runtime, nodeId, registry });
  await coordination.recover();
  const root = await Supervisor.start(runtime, nodeTree(runtime, table, parts), { name: 'garrison.node' });
  let stopping: Promise<DrainReport> | undefined;
  let treeStopped: Promise<void> | undefined;
  const stopTree = () =>
    (treeStopped ??= (async () => {
      // Whatever the drain left running ends here: the workflow servers end their runs' leases.
      await root.stop('shutdown', SERVICE_SHUTDOWN_MS);
      resources.close();
      await workflowSupervisor.stop();
      await coordination.close();
      await runtime.shutdown();
      unbindWork();
    })());
  const drain = () =>
    drainNode({
      store,
      clock,
      nodeId,
      registry,
      events,
      timeoutMs: config.drainTimeoutMs,
      parts: {
        isCronLeader: () => timers.isCronLeader,
        stopClaiming: (timeoutMs) => {
          draining = true;
          workflowSupervisor.stopLaunching();
          return {
            agents: agents?.shutdown({ timeoutMs }) ?? Promise.resolve(),
            others: Promise.all([timers.stop(), distributor.close()]),
          };
        },
        stopTree,
      },
    });
  const node: GarrisonNode = {
    id: nodeId,
    config,
    store,
    clock,
    runtime,
    events,
    metrics,
    registry,
    queues: admittedQueues,
    scheduler,
    timers,
    breakers,
    retryBudgets,
    workflows,
    workflowSupervisor,
    distributor,
    get agents(): AgentHost {
      if (agents === undefined) throw new Error('the agent host is not running');
      return agents;
    },
    metricsCollector,
    health,
    resources,
    coordination,
    describe: () => root.describe(),
    stop() {
      stopping ??= (async () => {
        try {
          const report = await drain();
          await setNodeState(store, nodeId, 'down', clock.now());
          return report;
        } catch (error) {
          // The store failed mid-drain: the tree still stops; what is held expires on its own.
          await stopTree().catch(() => undefined);
          throw error;
        } finally {
          if (ownsStore) await store.close();
        }
      })();
      return stopping;
    },
  };
  try {
    await startRetention(store, timers, config.retention, (report) =>
      events.emit('node.retention_purged', report),
    );
  } catch (error) {
    await node.stop().catch(() => undefined); // the tree is up: a failed start leaves nothing running
    throw error;
  }
  return node;
}
