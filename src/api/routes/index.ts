/** Every route of the API, in the order they are matched and documented. */
import type { ApiContext } from '../context.js';
import type { Route } from '../route.js';
import { agentRoutes } from './agents.js';
import { aiRoutes } from './ai.js';
import { coordinationRoutes } from './coordination.js';
import { operationRoutes } from './operations.js';
import { systemRoutes, type SystemRouteOptions } from './system.js';
import { taskRoutes } from './tasks.js';
import { workflowRoutes } from './workflows.js';

export type { SystemRouteOptions } from './system.js';

export function apiRoutes(ctx: ApiContext, system: SystemRouteOptions): Route[] {
  return [
    ...agentRoutes(ctx),
    ...workflowRoutes(ctx),
    ...taskRoutes(ctx),
    ...operationRoutes(ctx),
    ...coordinationRoutes(ctx),
    ...aiRoutes(ctx),
    ...systemRoutes(ctx, system),
  ];
}
