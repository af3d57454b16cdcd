/** Durable work: task queues and workflows. */
export * from './queue/index.js';
export * from './workflow/index.js';
