/**
 * One model call of a loop as journaled steps: the call's step (its value the reply as plain JSON, or a
 * retry note when the provider refused it for now), and for a refusal a durable sleep before the next
 * attempt's step. The SDK is called with the tools described but not executable, so it never runs one.
 */
import {
  generateText,
  NoOutputGeneratedError,
  type LanguageModel,
  type ModelMessage,
  type OutputInterface,
  type ToolSet,
} from 'ai';
import type { StepRetryPolicy, WorkflowContext } from '../work/index.js';
import { guardedCall, providerOf, retryNote, type ProviderGuards, type RetryNote } from './provider.js';
import { toolErrorText } from './tools.js';
import type { AgentToolCall, ModelReply } from './turns.js';

/** What every model call of a loop shares. */
export interface ModelCallSetup {
  readonly model: LanguageModel;
  readonly system: string | undefined;
  readonly tools: ToolSet | undefined;
  readonly output: OutputInterface | undefined;
  readonly maxRetries: number | undefined;
  readonly modelRetry: StepRetryPolicy | undefined;
  readonly guards: ProviderGuards | undefined;
}

/** Step names: `<loop>:model:<turn>`, then `<loop>:model:<turn>:retry:<attempt>` for later attempts. */
function stepName(loop: string, turn: number, attempt: number): string {
  return attempt === 1 ? `${loop}:model:${turn}` : `${loop}:model:${turn}:retry:${attempt}`;
}

/** Calls the model for `turn` (or takes its reply from the journal), retrying refusals durably. */
export async function callModel(
  ctx: WorkflowContext,
  setup: ModelCallSetup,
  loop: string,
  turn: number,
  messages: readonly ModelMessage[],
): Promise<ModelReply> {
  const provider = providerOf(setup.model);
  for (let attempt = 1; ; attempt++) {
    const value = await ctx.step<ModelReply | RetryNote>(
      stepName(loop, turn, attempt),
      async (step) => {
        try {
          return await guardedCall(setup.guards, provider, step.signal, (signal) =>
            modelReply(setup, messages, signal),
          );
        } catch (e) {
          const note = retryNote(e, setup.guards?.retry, attempt, Date.now());
          if (note === undefined) throw e;
          return note;
        }
      },
      setup.modelRetry === undefined ? undefined : { retry: setup.modelRetry },
    );
    if (!('retry' in value)) return value;
    await ctx.sleep(value.retry.afterMs);
  }
}

async function modelReply(
  setup: ModelCallSetup,
  messages: readonly ModelMessage[],
  signal: AbortSignal,
): Promise<ModelReply> {
  const r = await generateText({
    model: setup.model,
    ...(setup.system === undefined ? {} : { system: setup.system }),
    messages: [...messages],
    ...(setup.tools === undefined ? {} : { tools: setup.tools }),
    ...(setup.output === undefined ? {} : { output: setup.output }),
    ...(setup.maxRetries === undefined ? {} : { maxRetries: setup.maxRetries }),
    abortSignal: signal,
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
  const output = setup.output === undefined || toolCalls.length > 0 ? undefined : structured(r);
  return {
    messages: r.response.messages.filter((m) => m.role !== 'tool'),
    text: r.text,
    toolCalls,
    finishReason: r.finishReason,
    usage: r.usage,
    ...(output === undefined ? {} : { output }),
  };
}

/** The parsed structured output of a final reply (the SDK parsed and validated it), if it has one. */
function structured(r: { readonly output: unknown }): unknown {
  try {
    return r.output;
  } catch (e) {
    if (NoOutputGeneratedError.isInstance(e)) return undefined;
    throw e;
  }
}
