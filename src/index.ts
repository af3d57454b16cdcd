/** Garrison: a durable, supervised multi-agent runtime. */
export { GarrisonError, ValidationError, isGarrisonError } from './errors.js';
export * from './store/index.js';
export * from './runtime/index.js';
export * from './telemetry/index.js';
export * from './scheduler/index.js';
export * from './registry/index.js';
export * from './resilience/index.js';
export * from './governance/index.js';
export * from './messaging/index.js';
export * from './work/index.js';
export * from './coordination/index.js';
export * from './agents/index.js';
export * from './node/index.js';
export * from './api/index.js';
