/** Garrison: a durable, supervised multi-agent runtime. */
export { GarrisonError, ValidationError, isGarrisonError } from './errors.js';
export * from './store/index.js';
export * from './runtime/index.js';
