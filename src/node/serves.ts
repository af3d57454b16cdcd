/**
 * What a node serves — the workflows it executes, the capabilities of the agents it runs and the queues
 * its workers consume — published in its membership row's `info` with every heartbeat, so that work no
 * live node can run is shown as such (`GET /v1/workflows/:id`, `GET /v1/tasks`), never silently pending.
 */
import type { NodeInfo } from './membership.js';

/** The `serves` field of a node's `info`. */
export interface NodeServes {
  readonly workflows: readonly string[];
  readonly capabilities: readonly string[];
  /**
   * The queues its workers consume (an application's queues with handlers). An agent's own queue is not
   * listed: it is consumed while the agent runs, which the registry says.
   */
  readonly queues: readonly string[];
}

/** What a node with these workflows, agent types and queue workers serves. */
export function servesOf(
  workflows: ReadonlyArray<{ readonly name: string }>,
  agents: ReadonlyArray<{ readonly capabilities: readonly string[] }>,
  queues: readonly string[] = [],
): NodeServes {
  return {
    workflows: [...new Set(workflows.map((w) => w.name))].sort(),
    capabilities: [...new Set(agents.flatMap((a) => a.capabilities))].sort(),
    queues: [...new Set(queues)].sort(),
  };
}

/** Why a run of a workflow waits for want of a node. */
export interface UnservedWait {
  readonly reason: 'no_live_node';
  readonly message: string;
}

const strings = (list: unknown[]) => list.filter((v): v is string => typeof v === 'string');

/**
 * The `serves` a node published, or undefined when it published none (an older version: taken to serve
 * everything). `queues` is undefined when the node published workflows but no queues (likewise taken to
 * consume every queue).
 */
export function servesOfInfo(
  info: Record<string, unknown>,
): (Omit<NodeServes, 'queues'> & { readonly queues: readonly string[] | undefined }) | undefined {
  const s = info.serves as { workflows?: unknown; capabilities?: unknown; queues?: unknown } | undefined;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.workflows)) return undefined;
  return {
    workflows: strings(s.workflows),
    capabilities: Array.isArray(s.capabilities) ? strings(s.capabilities) : [],
    queues: Array.isArray(s.queues) ? strings(s.queues) : undefined,
  };
}

/** Nodes that take new work: up or suspect (a draining or down one takes none). */
export function liveNodes(nodes: readonly NodeInfo[]): NodeInfo[] {
  return nodes.filter((n) => n.state === 'up' || n.state === 'suspect');
}

/**
 * `no_live_node` when no live node (up or suspect; a draining or down one takes no new work) runs the
 * workflow `name`; undefined when one does. A live node that publishes nothing (an older version) is
 * taken to run everything.
 */
export function unservedWorkflow(nodes: readonly NodeInfo[], name: string): UnservedWait | undefined {
  const runs = liveNodes(nodes).some((n) => {
    const serves = servesOfInfo(n.info);
    return serves === undefined || serves.workflows.includes(name);
  });
  if (runs) return undefined;
  return { reason: 'no_live_node', message: `no live node runs ${name}` };
}
