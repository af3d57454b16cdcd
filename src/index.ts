/**
 * Garrison: a durable, supervised multi-agent runtime. The root is what an application needs: define
 * its workflows, agents, queues and the app itself, start a node, open a store, and tell the errors
 * apart. Everything else lives in a subpath per layer (`garrison/api`, `garrison/runtime`, …; see
 * docs/package.md). Importing the root loads no server code (no HTTP framework, no API).
 */

// Applications
export {
  defineApp,
  isApp,
  loadApp,
  startApp,
  type AppAgent,
  type AppContext,
  type AppFactory,
  type AppQueue,
  type AppSchedule,
  type AppSpec,
  type GarrisonApp,
  type RunningApp,
  type ScheduleContext,
  type StartAppOptions,
} from './app/index.js';

// Workflows
export {
  defineWorkflow,
  WorkflowStatus,
  type StepOptions,
  type StepRetryPolicy,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowDefinitionOptions,
  type WorkflowHandle,
  type WorkflowRun,
  type StartOptions,
} from './work/workflow/index.js';

// Agents
export {
  defineAction,
  defineAgent,
  directive,
  withDirectives,
  signalOf,
  type ActionContext,
  type ActionDefinition,
  type AgentDefinition,
  type AgentInfo,
  type AgentSpec,
} from './agents/index.js';

// Queues
export {
  defineQueue,
  type ClaimedTask,
  type EnqueueOptions,
  type QueueClient,
  type QueueDefinition,
  type QueueSettings,
  type TaskContext,
} from './work/queue/index.js';

// Nodes and stores
export {
  startNode,
  describeDrain,
  type DrainReport,
  type GarrisonNode,
  type NodeConfig,
  type NodeConfigInput,
  type StartNodeOptions,
} from './node/index.js';
export { openStore, type OpenStoreOptions, type Store, type Tx } from './store/index.js';
export type { Clock } from './runtime/index.js';

// Errors: every one a GarrisonError with a stable `code`; a guard per family.
export {
  GarrisonError,
  PermanentError,
  ValidationError,
  isGarrisonError,
  isPermanentError,
} from './errors.js';
export { AgentError, AgentErrorCode, isAgentError } from './agents/index.js';
export { isWorkflowError, WorkflowError, WorkflowErrorCode } from './work/workflow/index.js';
export {
  isQueueError,
  LeaseLostError,
  PermanentTaskError,
  QueueError,
  QueueErrorCode,
  QueueFullError,
} from './work/queue/index.js';
export { isStoreError, StoreError, StoreErrorCode } from './store/index.js';
export { isRuntimeError, RuntimeError, RuntimeErrorCode } from './runtime/index.js';
