/**
 * What one model turn leaves in the journal: the reply as plain JSON (messages, tool calls, finish
 * reason, usage), so a replay after a crash rebuilds the conversation without calling the model.
 */
import type { FinishReason, LanguageModelUsage, ModelMessage } from 'ai';

/** A tool call the model asked for, as journaled. */
export interface AgentToolCall {
  readonly toolCallId: string;
  readonly toolName: string;
  /** The input as the model wrote it (parsed JSON). */
  readonly input: unknown;
  /** Set when the SDK rejected the call (unknown tool, input not matching the schema): its message. */
  readonly invalid?: string;
}

/** A tool call's outcome, as journaled and as the model sees it. */
export type AgentToolResult =
  | { readonly toolCallId: string; readonly toolName: string; readonly ok: true; readonly output: unknown }
  | {
      readonly toolCallId: string;
      readonly toolName: string;
      readonly ok: false;
      readonly error: string;
      /** Set when a person denied the call (or no decision came in time): it never ran. */
      readonly denied?: true;
    };

/** One model call: its reply, and the results of the tools it asked for. */
export interface AgentTurn {
  /** 0 for the first model call. */
  readonly turn: number;
  /** The assistant messages of the reply (provider-executed tool results included in them). */
  readonly messages: readonly ModelMessage[];
  readonly text: string;
  readonly toolCalls: readonly AgentToolCall[];
  readonly finishReason: FinishReason;
  readonly usage: LanguageModelUsage;
  /** The structured output of a final reply when the loop was given `output` (parsed and validated). */
  readonly output?: unknown;
  /** Filled in once every tool call of the turn has its result. */
  readonly toolResults: readonly AgentToolResult[];
}

/** The journaled part of a turn (the model call's step value). */
export type ModelReply = Omit<AgentTurn, 'turn' | 'toolResults'>;

/** Sums token counts, treating a count the provider did not give as 0. */
export function addUsage(a: TokenUsage, b: LanguageModelUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + (b.inputTokens ?? 0),
    outputTokens: a.outputTokens + (b.outputTokens ?? 0),
    totalTokens: a.totalTokens + (b.totalTokens ?? (b.inputTokens ?? 0) + (b.outputTokens ?? 0)),
  };
}

/** Tokens of a whole loop. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** The tool message that answers a turn's tool calls, in the AI SDK's prompt format. */
export function toolMessage(results: readonly AgentToolResult[]): ModelMessage {
  return {
    role: 'tool',
    content: results.map((r) => ({
      type: 'tool-result' as const,
      toolCallId: r.toolCallId,
      toolName: r.toolName,
      output: r.ok
        ? { type: 'json' as const, value: (r.output ?? null) as never }
        : { type: 'error-text' as const, value: r.error },
    })),
  };
}
