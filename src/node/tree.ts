/**
 * The one supervision tree of a node. Its shape, strategies, restart types and intensities are fixed
 * here — not configuration — so a test node and a production node run the same tree (seed flaw 6). The
 * parts plug in as service processes or supervisors; each crash is contained by the strategy below.
 *
 *   garrison.node            rest_for_one: a restarted scheduler restarts everything that uses it
 *   ├─ scheduler             every timer of the node (process timers and durable timers)
 *   ├─ membership            the node's heartbeat row
 *   ├─ coordination          one_for_one: a crash of one part leaves the others running (seed flaw 3)
 *   │  ├─ workflows          the workflow supervisor: one workflow server per running run
 *   │  ├─ task_distributor   routes dispatched steps to healthy agents by capability and load
 *   │  ├─ health_monitor     agent heartbeats and health transitions
 *   │  └─ metrics_collector  totals computed from the store
 *   └─ agents                the agent host: a dynamic supervisor of agent processes, resumed from the store
 */
import { Supervisor, type ChildSpec, type Runtime, type SupervisorSpec } from '../runtime/index.js';
import { serviceBehaviour, type ServiceFactory, type ServiceTable } from './service.js';

/** Restart intensities of the node's supervisors: the same everywhere. */
export const NODE_SUPERVISION = {
  root: { strategy: 'rest_for_one', maxRestarts: 3, periodMs: 5_000 },
  coordination: { strategy: 'one_for_one', maxRestarts: 5, periodMs: 10_000 },
} as const;

/** How long each service gets to stop before it is killed, in ms. */
export const SERVICE_SHUTDOWN_MS = 10_000;

/** The parts a node plugs into its tree. */
export interface NodeParts {
  readonly scheduler: ServiceFactory;
  readonly membership: ServiceFactory;
  /** The workflow supervisor, as a child spec (a supervisor of its own, named `workflows`). */
  readonly workflows: ChildSpec;
  readonly taskDistributor: ServiceFactory;
  readonly healthMonitor: ServiceFactory;
  /** The metrics collector, as a child spec (its own process, named `metrics_collector`). */
  readonly metricsCollector: ChildSpec;
  readonly agents: ServiceFactory;
}

function service(runtime: Runtime, table: ServiceTable, id: string, factory: ServiceFactory): ChildSpec {
  return {
    id,
    type: 'worker',
    restart: 'permanent',
    shutdownMs: SERVICE_SHUTDOWN_MS,
    start: (o) =>
      runtime.spawn(serviceBehaviour(id, factory, table), undefined, {
        link: o.link,
        name: `garrison.${id}`,
      }),
  };
}

/** The node's tree. The one function that builds it, for tests and production alike. */
export function nodeTree(runtime: Runtime, table: ServiceTable, parts: NodeParts): SupervisorSpec {
  const coordination: SupervisorSpec = {
    id: 'coordination',
    ...NODE_SUPERVISION.coordination,
    children: [
      parts.workflows,
      service(runtime, table, 'task_distributor', parts.taskDistributor),
      service(runtime, table, 'health_monitor', parts.healthMonitor),
      parts.metricsCollector,
    ],
  };
  return {
    id: 'garrison.node',
    ...NODE_SUPERVISION.root,
    children: [
      service(runtime, table, 'scheduler', parts.scheduler),
      service(runtime, table, 'membership', parts.membership),
      Supervisor.childSpec(runtime, coordination, { name: 'garrison.coordination' }),
      service(runtime, table, 'agents', parts.agents),
    ],
  };
}
