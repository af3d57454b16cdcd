/**
 * Broadcast by capability: the same action called on every healthy agent with a capability, the answers
 * gathered — one `{ agent, ok, value | error }` per agent, a failure in its place rather than thrown. Each
 * call is an ordinary `host.call`: on another node it is a task at the top of the agent's queue and its
 * answer a durable message (docs/agents.md, "Across nodes"), so an agent's node dying mid-call costs a
 * `call_timeout` for that agent, nothing more. The participants are the registry's at the start; an
 * agent that dies meanwhile answers with its error. With `quorum`, fewer successes than that fail the
 * whole broadcast with `quorum_not_met` (the answers in `details`).
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { AgentRegistry } from '../registry/index.js';
import { errorInfo, type WorkflowErrorInfo } from '../work/index.js';
import { nameSchema } from './action.js';
import { AgentError, AgentErrorCode } from './errors.js';

/** Options of a broadcast. */
export interface BroadcastOptions {
  /** Each call's timeout, ms (a slower agent answers `call_timeout`). Default 5000. */
  readonly timeoutMs?: number;
  /** Successes needed, 1 or more; fewer fail the broadcast with `quorum_not_met`. Default none. */
  readonly quorum?: number;
  /** Agents not to call (an agent broadcasting from an action leaves itself out). */
  readonly exclude?: readonly string[];
}

/** One agent's answer. */
export type BroadcastAnswer<O = unknown> =
  | { readonly agent: string; readonly ok: true; readonly value: O }
  | { readonly agent: string; readonly ok: false; readonly error: WorkflowErrorInfo };

/** What a broadcast calls each agent with: the host's `call`. */
export type CallAgent = (
  id: string,
  action: string,
  input: unknown,
  options: { readonly timeoutMs?: number },
) => Promise<unknown>;

const optionsSchema = z.strictObject({
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31)
    .optional(),
  quorum: z.number().int().min(1).max(10_000).optional(),
  exclude: z.array(z.string()).max(10_000).optional(),
});

/** Calls `action` on every healthy agent with `capability` (but `exclude`d ones) and gathers the answers. */
export async function broadcast(
  registry: AgentRegistry,
  call: CallAgent,
  capability: unknown,
  action: unknown,
  input: unknown,
  options: unknown = {},
): Promise<BroadcastAnswer[]> {
  const cap = nameSchema.safeParse(capability);
  const act = nameSchema.safeParse(action);
  const opts = optionsSchema.safeParse(options ?? {});
  if (!cap.success || !act.success || !opts.success) {
    const issues = [cap, act, opts].flatMap((r) => (r.success ? [] : r.error.issues));
    throw new ValidationError(`invalid broadcast: ${describeIssues(issues)}`);
  }
  const { timeoutMs, quorum, exclude = [] } = opts.data;
  const skip = new Set(exclude);
  const agents = (await registry.findCapableHealthy(cap.data))
    .map((a) => a.id)
    .filter((id) => !skip.has(id))
    .sort();
  if (agents.length === 0 && quorum === undefined)
    throw new AgentError(
      AgentErrorCode.noCapableAgent,
      `broadcast of ${act.data}: no healthy agent has the capability "${cap.data}"`,
      { details: { capability: cap.data, action: act.data } },
    );
  const answers = await Promise.all(
    agents.map(async (agent): Promise<BroadcastAnswer> => {
      try {
        return { agent, ok: true, value: await call(agent, act.data, input, { timeoutMs }) };
      } catch (error) {
        return { agent, ok: false, error: errorInfo(error) };
      }
    }),
  );
  const ok = answers.filter((a) => a.ok).length;
  if (quorum !== undefined && ok < quorum)
    throw new AgentError(
      AgentErrorCode.quorumNotMet,
      `broadcast of ${act.data} to "${cap.data}": ${ok} of ${agents.length} agents answered, ${quorum} needed`,
      { details: { capability: cap.data, action: act.data, quorum, participants: agents, answers } },
    );
  return answers;
}
