/** Durable work: task queues (and, beside them, workflows). */
export * from './queue/index.js';
