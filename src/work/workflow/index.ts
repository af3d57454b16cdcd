/** Durable workflows: journaled steps replayed after a crash, durable sleep, signals, children, compensation. */
export { defineWorkflow } from './define.js';
export { createWorkflowEngine, WorkflowEngine, type WorkflowEngineOptions } from './engine.js';
export {
  createLocalDispatcher,
  type DispatchRequest,
  type DispatchResults,
  type Dispatcher,
  type LocalHandler,
} from './dispatcher.js';
export type { DispatchNote } from './dispatch-notes.js';
export { MAX_BATCH, type StartItem } from './start-batch.js';
export { purgeFinishedRuns, type RunPurge } from './retention.js';
export { expireRunLeasesOf } from './run-writes.js';
export { PENDING_CHANNEL, WORKFLOWS_CHANNEL } from './channels.js';
export { errorInfo, isWorkflowError, WorkflowError, WorkflowErrorCode } from './errors.js';
export {
  WorkflowStatus,
  type ChildHandle,
  type DispatchableAction,
  type DispatchAllOptions,
  type DispatchAllResult,
  type DispatchAttempt,
  type DispatchOptions,
  type DispatchRetryPolicy,
  type DispatchWait,
  type InputSchema,
  type ListOptions,
  type ResultOptions,
  type StartChildOptions,
  type StartOptions,
  type StepContext,
  type StepKind,
  type StepOptions,
  type StepRetryPolicy,
  type WaitForSignalOptions,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowDefinitionOptions,
  type WorkflowErrorInfo,
  type WorkflowFunction,
  type WorkflowHandle,
  type WorkflowRef,
  type WorkflowRun,
  type WorkflowStepInfo,
} from './types.js';
