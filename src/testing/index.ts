/** Helpers for users' tests: temporary stores and a controllable clock. */
export { VirtualClock } from '../runtime/clock.js';
export { createMemoryStore, createTemporaryStore } from './stores.js';
