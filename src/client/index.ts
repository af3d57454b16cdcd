/**
 * `garrison/client`: start, watch and steer workflow runs and enqueue tasks from a process that runs no
 * node. It loads no server code (no HTTP API, no node supervision tree); see docs/client.md.
 */
export {
  createClient,
  type ClientHandle,
  type ClientOptions,
  type ClientResultOptions,
  type GarrisonClient,
  type OutputOf,
  type RunPage,
} from './client.js';
export { defineWorkflow } from '../work/workflow/define.js';
export { isWorkflowError, WorkflowError, WorkflowErrorCode } from '../work/workflow/errors.js';
export type { StartItem } from '../work/workflow/start-batch.js';
export {
  WorkflowStatus,
  type ListOptions,
  type StartOptions,
  type WorkflowDefinition,
  type WorkflowRun,
} from '../work/workflow/types.js';
export { GarrisonError, ValidationError, isGarrisonError } from '../errors.js';
export type { EnqueuedTask, EnqueueOptions, Task } from '../work/queue/types.js';
export { defineQueue } from '../work/queue/definition.js';
