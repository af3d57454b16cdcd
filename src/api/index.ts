/** The HTTP API: `/v1` REST, Prometheus metrics, health and readiness, server-sent events, OpenAPI, dashboard. */
export type { ApiContext, HealthLevel, HealthSummaryLike } from './context.js';
export { createApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { nodeApiContext, startApiServer } from './node-context.js';
export {
  ApiScope,
  MIN_TOKEN_LENGTH,
  createApiToken,
  hashApiToken,
  type ApiAuthOptions,
  type ApiTokenConfig,
  type RouteAccess,
} from './auth.js';
export { ApiError } from './errors.js';
export { MAX_DEPTH } from './body.js';
export type { MetricsSummary } from './summary.js';
export type { Route } from './route.js';
