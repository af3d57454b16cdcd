/**
 * `garrison/ai`: durable model-driven agent loops on the AI SDK (`ai`, an optional peer dependency).
 * Model calls and tool calls are journaled steps of a workflow (docs/ai.md). Nothing else in Garrison
 * imports this module, so an application without AI never loads the SDK.
 */
export { runAgent, type AgentResult, type AgentStop, type RunAgentOptions } from './agent.js';
export {
  approvalDecisionSchema,
  approvalSignalName,
  type ApprovalDecision,
  type NeedsApproval,
} from './approval.js';
export { BudgetExceededError, type AgentBudget } from './budget.js';
export { ProviderRateLimitedError, type ProviderGuards, type ProviderRetryPolicy } from './provider.js';
export {
  actionTool,
  capabilityTool,
  workflowTool,
  type ActionToolOptions,
  type ApprovalOptions,
  type CapabilityToolOptions,
  type DurableTool,
  type ToolCallContext,
  type WorkflowToolOptions,
} from './tools.js';
export type { AgentToolCall, AgentToolResult, AgentTurn, TokenUsage } from './turns.js';
