/**
 * `runAgent`: a model-driven tool loop inside a workflow, one journal step per model call and one per
 * tool call. The loop calls the model one turn at a time (tools without `execute`, so the SDK never runs
 * them), so every turn boundary is a journal boundary: resumed after a crash on any node, the replies of
 * finished turns come from the journal and their tools' results too; the model object is not called.
 */
import { generateText, tool, type LanguageModel, type ModelMessage, type ToolSet } from 'ai';
import { z } from 'zod';
import { describeIssues, isPermanentError, ValidationError } from '../errors.js';
import type { StepRetryPolicy, WorkflowContext } from '../work/index.js';
import { toolErrorText, type DurableTool } from './tools.js';
import {
  addUsage,
  toolMessage,
  type AgentToolCall,
  type AgentToolResult,
  type AgentTurn,
  type ModelReply,
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
  const maxSteps = options.maxSteps ?? 20;
  const tools = new Map(Object.entries(options.tools ?? {}));
  const described = sdkTools(tools);
  const input: ModelMessage[] =
    options.messages !== undefined ? [...options.messages] : [{ role: 'user', content: options.prompt! }];
  const added: ModelMessage[] = [];
  const turns: AgentTurn[] = [];
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };

  for (let turn = 0; ; turn++) {
    const reply = await ctx.step<ModelReply>(
      `${name}:model:${turn}`,
      async (step) => {
        const r = await generateText({
          model: options.model,
          ...(options.system === undefined ? {} : { system: options.system }),
          messages: [...input, ...added],
          ...(described === undefined ? {} : { tools: described }),
          ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
          abortSignal: step.signal,
        });
        // The SDK answers a call it rejected (unknown tool, bad input) in a tool message of its own; the
        // loop gives the model one tool message per turn, so that answer becomes the call's error.
        const rejected = new Map<string, string>();
        for (const m of r.response.messages) {
          if (m.role !== 'tool') continue;
          for (const p of m.content) {
            if (p.type !== 'tool-result') continue;
            const out = p.output;
            rejected.set(
              p.toolCallId,
              out.type === 'error-text' || out.type === 'text' ? out.value : JSON.stringify(out),
            );
          }
        }
        const toolCalls: AgentToolCall[] = r.toolCalls
          .filter((c) => c.providerExecuted !== true)
          .map((c) => {
            const invalid =
              rejected.get(c.toolCallId) ??
              ('invalid' in c && c.invalid === true
                ? toolErrorText((c as { error?: unknown }).error ?? 'invalid tool call')
                : undefined);
            return {
              toolCallId: c.toolCallId,
              toolName: c.toolName,
              input: (c.input as unknown) ?? null,
              ...(invalid === undefined ? {} : { invalid }),
            };
          });
        return {
          messages: r.response.messages.filter((m) => m.role !== 'tool'),
          text: r.text,
          toolCalls,
          finishReason: r.finishReason,
          usage: r.usage,
        };
      },
      options.modelRetry === undefined ? undefined : { retry: options.modelRetry },
    );
    usage = addUsage(usage, reply.usage);
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
      return { text: reply.text, turns, messages: added, usage, stoppedBy };
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
