/**
 * `runAgent`: a model-driven tool loop inside a workflow, one journal step per model call and one per
 * tool call. The loop calls the model one turn at a time (tools without `execute`, so the SDK never runs
 * them), so every turn boundary is a journal boundary: resumed after a crash on any node, the replies of
 * finished turns come from the journal and their tools' results too; the model object is not called.
 * Around each model call: the budgets are checked before it, its tokens recorded in a transaction step
 * after it; a tool call that needs approval waits on a durable signal first.
 */
import { tool, type LanguageModel, type ModelMessage, type OutputInterface, type ToolSet } from 'ai';
import { z } from 'zod';
import { describeIssues, isPermanentError, ValidationError } from '../errors.js';
import type { StepRetryPolicy, WorkflowContext } from '../work/index.js';
import { awaitApproval, denialText, needsApproval } from './approval.js';
import {
  budgetSchema,
  checkAgentBudget,
  checkRunBudget,
  usageStep,
  type AgentBudget,
  type UsageStepValue,
} from './budget.js';
import { callModel, type ModelCallSetup } from './model-call.js';
import { modelName, providerSchema, type ProviderGuards } from './provider.js';
import { toolErrorText, type DurableTool } from './tools.js';
import {
  addUsage,
  toolMessage,
  type AgentToolCall,
  type AgentToolResult,
  type AgentTurn,
  type TokenUsage,
} from './turns.js';

export interface RunAgentOptions {
  /** The model (an AI SDK language model). Called only for turns the journal does not hold. */
  readonly model: LanguageModel;
  readonly system?: string;
  /** The user's request. Give `prompt` or `messages`, not both. */
  readonly prompt?: string;
  /** The conversation so far (JSON-serialisable AI SDK model messages). */
  readonly messages?: readonly ModelMessage[];
  /** The tools, by the name the model calls them (letters, digits, `_` and `-`, at most 64). */
  readonly tools?: Readonly<Record<string, DurableTool>>;
  /** Most model calls, the first included. Default 20. */
  readonly maxSteps?: number;
  /** Asked after each turn's tools have run: true ends the loop before the next model call. */
  readonly stopWhen?: (turns: readonly AgentTurn[]) => boolean;
  /**
   * Names the loop's journal steps (`<name>:model:<turn>`, `<name>:tool:<turn>:<tool>`) and its tool
   * calls' idempotency keys; two loops in one workflow need two names. Default `agent`.
   */
  readonly name?: string;
  /** The SDK's own retries of one model call (not journaled). Default the SDK's (2). */
  readonly maxRetries?: number;
  /** Durable retries of a model call's step, after the SDK's. Default: one attempt. */
  readonly modelRetry?: StepRetryPolicy;
  /**
   * The agent the loop's tokens are recorded under and its per-agent budget counts. Default
   * `<workflow name>:<loop name>`.
   */
  readonly agent?: string;
  /** Token budgets, checked before each model call (`budget_exceeded`, no call made). */
  readonly budget?: AgentBudget;
  /**
   * The provider's rate limiter and circuit breaker, and durable retries of its 429/5xx. With `retry`,
   * the SDK's own retries default to 0 (every retry is journaled).
   */
  readonly provider?: ProviderGuards;
  /**
   * Structured output as the AI SDK offers it (`Output.object({ schema })`, …): the final reply's parsed
   * value is journaled with it and returned as `AgentResult.output`.
   */
  readonly output?: OutputInterface;
}

/** Why the loop ended. */
export type AgentStop = 'answer' | 'max-steps' | 'stop-when';

export interface AgentResult {
  /** The text of the last model reply. */
  readonly text: string;
  readonly turns: readonly AgentTurn[];
  /** Every message of the loop after the input ones: replies and tool results, in order. */
  readonly messages: readonly ModelMessage[];
  readonly usage: TokenUsage;
  readonly stoppedBy: AgentStop;
  /** The final reply's structured output, when the loop was given `output` and the model answered. */
  readonly output?: unknown;
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const optionsSchema = z
  .object({
    system: z.string().optional(),
    prompt: z.string().optional(),
    messages: z.array(z.looseObject({ role: z.enum(['system', 'user', 'assistant', 'tool']) })).optional(),
    maxSteps: z.number().int().min(1).max(10_000).optional(),
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits and _ . - only')
      .optional(),
    maxRetries: z.number().int().min(0).max(100).optional(),
    agent: z.string().min(1).max(200).optional(),
    budget: budgetSchema.optional(),
    provider: providerSchema.optional(),
  })
  .refine((o) => (o.prompt === undefined) !== (o.messages === undefined), {
    message: 'give either prompt or messages',
  });

function checkOptions(options: RunAgentOptions): void {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(`invalid agent options: ${describeIssues(parsed.error.issues)}`);
  }
  if (options.model === undefined || options.model === null) {
    throw new ValidationError('invalid agent options: model is required');
  }
  for (const [name, t] of Object.entries(options.tools ?? {})) {
    if (!TOOL_NAME.test(name)) {
      throw new ValidationError(
        `invalid agent options: tool name ${JSON.stringify(name)} must be 1 to 64 letters, digits, _ or -`,
      );
    }
    if (
      t?.needsApproval !== undefined &&
      typeof t.needsApproval !== 'boolean' &&
      typeof t.needsApproval !== 'function'
    ) {
      throw new ValidationError(
        `invalid agent options: tool "${name}" needsApproval must be a boolean or a function of the input`,
      );
    }
    if (typeof t?.call !== 'function') {
      throw new ValidationError(
        `invalid agent options: tool "${name}" is not a durable tool (use actionTool or capabilityTool)`,
      );
    }
  }
}

/** The tools as the SDK describes them to the model: no `execute`, so the SDK never runs a call. */
function sdkTools(tools: ReadonlyMap<string, DurableTool>): ToolSet | undefined {
  if (tools.size === 0) return undefined;
  const set: ToolSet = {};
  for (const [name, t] of tools) {
    set[name] = tool({
      ...(t.description === undefined ? {} : { description: t.description }),
      inputSchema: t.inputSchema,
    });
  }
  return set;
}

/** Runs the loop. Call it from a workflow's function; its result is deterministic given the journal. */
export async function runAgent(ctx: WorkflowContext, options: RunAgentOptions): Promise<AgentResult> {
  checkOptions(options);
  const name = options.name ?? 'agent';
  const agent = options.agent ?? `${ctx.workflowName}:${name}`;
  const maxSteps = options.maxSteps ?? 20;
  const tools = new Map(Object.entries(options.tools ?? {}));
  const setup: ModelCallSetup = {
    model: options.model,
    system: options.system,
    tools: sdkTools(tools),
    output: options.output,
    maxRetries: options.maxRetries ?? (options.provider?.retry === undefined ? undefined : 0),
    modelRetry: options.modelRetry,
    guards: options.provider,
  };
  const input: ModelMessage[] =
    options.messages !== undefined ? [...options.messages] : [{ role: 'user', content: options.prompt! }];
  const added: ModelMessage[] = [];
  const turns: AgentTurn[] = [];
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  const budget = options.budget;
  // The agent's tokens over its budget's period, as last journaled (read before the first call).
  let agentTokens: number | undefined =
    budget?.perAgent === undefined
      ? undefined
      : (
          await ctx.transactionStep<UsageStepValue>(`${name}:budget`, (tx) =>
            usageStep(tx, undefined, budget, agent, Date.now()),
          )
        ).agentTokens;

  for (let turn = 0; ; turn++) {
    checkRunBudget(budget, usage.totalTokens, turn);
    checkAgentBudget(budget, agent, agentTokens, turn);
    const reply = await callModel(ctx, setup, name, turn, [...input, ...added]);
    usage = addUsage(usage, reply.usage);
    agentTokens = (
      await ctx.transactionStep<UsageStepValue>(`${name}:usage:${turn}`, (tx) => {
        const now = Date.now();
        return usageStep(
          tx,
          {
            runId: ctx.workflowId,
            loop: name,
            turn,
            workflow: ctx.workflowName,
            agent,
            model: modelName(options.model),
            ...addUsage({ inputTokens: 0, outputTokens: 0, totalTokens: 0 }, reply.usage),
            at: now,
          },
          budget,
          agent,
          now,
        );
      })
    ).agentTokens;
    added.push(...reply.messages);

    const results: AgentToolResult[] = [];
    // One call at a time, in the model's order: each is its own journal step.
    for (const call of reply.toolCalls) {
      results.push(await runToolCall(ctx, tools, name, turn, call));
    }
    if (results.length > 0) added.push(toolMessage(results));
    turns.push({ turn, ...reply, toolResults: results });

    const stoppedBy: AgentStop | undefined =
      reply.toolCalls.length === 0
        ? 'answer'
        : options.stopWhen?.(turns) === true
          ? 'stop-when'
          : turn + 1 >= maxSteps
            ? 'max-steps'
            : undefined;
    if (stoppedBy !== undefined) {
      return {
        text: reply.text,
        turns,
        messages: added,
        usage,
        stoppedBy,
        ...(reply.output === undefined ? {} : { output: reply.output }),
      };
    }
  }
}

async function runToolCall(
  ctx: WorkflowContext,
  tools: ReadonlyMap<string, DurableTool>,
  name: string,
  turn: number,
  call: AgentToolCall,
): Promise<AgentToolResult> {
  const { toolCallId, toolName } = call;
  const failed = (error: string): AgentToolResult => ({ toolCallId, toolName, ok: false, error });
  if (call.invalid !== undefined) return failed(call.invalid);
  const t = tools.get(toolName);
  if (t === undefined) return failed(`no tool named "${toolName}"`);
  if (needsApproval(t.needsApproval, call.input)) {
    const decision = await awaitApproval(ctx, name, turn, call, t.approvalTimeoutMs);
    if (!decision.approved) {
      return { toolCallId, toolName, ok: false, error: denialText(decision), denied: true };
    }
  }
  try {
    const output = await t.call(
      {
        workflow: ctx,
        toolName,
        toolCallId,
        idempotencyKey: `${ctx.workflowId}:${name}:${turn}:${toolCallId}`,
        stepName: `${name}:tool:${turn}:${toolName}`,
      },
      call.input,
    );
    return { toolCallId, toolName, ok: true, output: output ?? null };
  } catch (e) {
    if (isPermanentError(e)) throw e;
    return failed(toolErrorText(e));
  }
}
