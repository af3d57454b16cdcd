/**
 * What a node serves — the workflows it executes and the capabilities of the agents it runs — published
 * in its membership row's `info` with every heartbeat, so that work no live node can run is shown as
 * such (`GET /v1/workflows/:id`), never silently pending.
 */
import type { NodeInfo } from './membership.js';

/** The `serves` field of a node's `info`. */
export interface NodeServes {
  readonly workflows: readonly string[];
  readonly capabilities: readonly string[];
}

/** What a node with these workflows and agent types serves. */
export function servesOf(
  workflows: ReadonlyArray<{ readonly name: string }>,
  agents: ReadonlyArray<{ readonly capabilities: readonly string[] }>,
): NodeServes {
  return {
    workflows: [...new Set(workflows.map((w) => w.name))].sort(),
    capabilities: [...new Set(agents.flatMap((a) => a.capabilities))].sort(),
  };
}

/** Why a run of a workflow waits for want of a node. */
export interface UnservedWait {
  readonly reason: 'no_live_node';
  readonly message: string;
}

function servesOfInfo(info: Record<string, unknown>): NodeServes | undefined {
  const s = info.serves as { workflows?: unknown; capabilities?: unknown } | undefined;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.workflows)) return undefined;
  return {
    workflows: s.workflows.filter((w): w is string => typeof w === 'string'),
    capabilities: Array.isArray(s.capabilities)
      ? s.capabilities.filter((c): c is string => typeof c === 'string')
      : [],
  };
}

/**
 * `no_live_node` when no live node (up or suspect; a draining or down one takes no new work) runs the
 * workflow `name`; undefined when one does. A live node that publishes nothing (an older version) is
 * taken to run everything.
 */
export function unservedWorkflow(nodes: readonly NodeInfo[], name: string): UnservedWait | undefined {
  const live = nodes.filter((n) => n.state === 'up' || n.state === 'suspect');
  const runs = live.some((n) => {
    const serves = servesOfInfo(n.info);
    return serves === undefined || serves.workflows.includes(name);
  });
  if (runs) return undefined;
  return { reason: 'no_live_node', message: `no live node runs ${name}` };
}
