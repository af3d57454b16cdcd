/** The API's context taken from a running node: every member is the node's own part. */
import { listNodes, type GarrisonNode } from '../node/index.js';
import type { ApiContext } from './context.js';
import { createApiServer, type ApiServer, type ApiServerOptions } from './server.js';

export function nodeApiContext(node: GarrisonNode): ApiContext {
  return {
    store: node.store,
    clock: node.clock,
    registry: node.registry,
    workflows: node.workflows,
    queues: node.queues,
    timers: node.timers,
    breakers: node.breakers,
    metrics: node.metrics,
    events: node.events,
    health: () => node.health.run(),
    nodes: () => listNodes(node.store, node.clock.now(), node.config, { holdings: true }),
    resources: () => node.resources.usageAll(),
    coordination: () => node.metricsCollector.snapshot(),
    extraSummary: () => ({
      id: node.id,
      distributor: node.distributor.stats(),
      processTimers: node.scheduler.list().length,
    }),
  };
}

/** Serves the API of a running node: `createApiServer(nodeApiContext(node), options)`. */
export function startApiServer(node: GarrisonNode, options: ApiServerOptions = {}): Promise<ApiServer> {
  return createApiServer(nodeApiContext(node), options);
}
