/** The HTTP API: `/v1` REST, Prometheus metrics, health and readiness, server-sent events, OpenAPI, dashboard. */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { ApiError } from './errors.js';
export { apiRoutes } from './routes.js';
