/**
 * Tools of a durable agent loop. A tool is not an AI SDK `execute` function: the loop runs each call
 * itself, as a journaled effect of the workflow, so a call that finished is never made again after a
 * crash. `actionTool` runs an action in a step of the workflow; `capabilityTool` hands the call to an
 * agent with a capability, anywhere, through `ctx.dispatch`.
 */
import type { z } from 'zod';
import { ActionResult, type ActionContext, type ActionDefinition } from '../agents/index.js';
import { GarrisonError, isPermanentError, PermanentError } from '../errors.js';
import type {
  DispatchableAction,
  DispatchRetryPolicy,
  StepRetryPolicy,
  WorkflowContext,
  WorkflowRef,
} from '../work/index.js';
import type { NeedsApproval } from './approval.js';

/** What a tool's call is given besides its input. */
export interface ToolCallContext {
  /** The workflow the loop runs in: every effect of the call goes through it. */
  readonly workflow: WorkflowContext;
  readonly toolName: string;
  /** The model's id of this call. */
  readonly toolCallId: string;
  /**
   * `<workflow id>:<agent name>:<turn>:<tool call id>`: the same on every attempt and after every
   * restart. Pass it to external systems so a call repeated after a crash is done once.
   */
  readonly idempotencyKey: string;
  /** The journal step name the call should use (`<agent name>:tool:<turn>:<tool name>`). */
  readonly stepName: string;
}

/** A tool the loop can offer the model. */
export interface DurableTool {
  /** Tells the model what the tool does. */
  readonly description?: string;
  /** The tool's input, as the model is told and as its calls are checked. */
  readonly inputSchema: z.ZodType;
  /**
   * Performs the call through `ctx.workflow` (a step, a dispatch, a child workflow), so that its result
   * is journaled. What it throws goes back to the model as the call's error text, except a
   * `PermanentError`, which fails the run.
   */
  call(ctx: ToolCallContext, input: unknown): Promise<unknown>;
  /**
   * A person must approve each call (`true`) or the calls whose input the predicate accepts: the run
   * waits durably for the signal `approval:<loop>:<turn>:<tool call id>` (docs/ai.md, _Approvals_).
   */
  readonly needsApproval?: NeedsApproval;
  /** How long a call waits for its approval, in ms; past it the call counts as denied. Default: no limit. */
  readonly approvalTimeoutMs?: number;
}

/** The approval options every ready-made tool takes. */
export interface ApprovalOptions {
  /** A person must approve each call, or each call whose input the predicate accepts. Default false. */
  readonly needsApproval?: NeedsApproval;
  /** How long a call waits for its approval, in ms; past it the call counts as denied. Default: no limit. */
  readonly approvalTimeoutMs?: number;
}

function approvalOf(options: ApprovalOptions): ApprovalOptions {
  return {
    ...(options.needsApproval === undefined ? {} : { needsApproval: options.needsApproval }),
    ...(options.approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs: options.approvalTimeoutMs }),
  };
}

export interface ActionToolOptions extends ApprovalOptions {
  /** Default: the action's description. */
  readonly description?: string;
  /** Retries of the step that runs the action (durable back-off). Default: one attempt. */
  readonly retry?: StepRetryPolicy;
  /** The state the action's `ctx.state` reads. Default `undefined`. */
  readonly state?: unknown;
}

/** What the action's step journals: a permanent failure is kept as a value so a replay sees it too. */
type ActionOutcome =
  | { readonly ok: true; readonly output: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * An action run in the workflow itself, as one journaled step per call. Its input is checked by the
 * action's schema (a bad input goes back to the model as an error); `ctx.idempotencyKey` is the call's
 * key. There is no agent around it: `ctx.registry` is not available and directives are refused.
 */
export function actionTool<I, O>(
  action: ActionDefinition<I, O, never>,
  options: ActionToolOptions = {},
): DurableTool {
  return {
    description: options.description ?? action.description,
    inputSchema: action.inputSchema,
    ...approvalOf(options),
    async call(ctx, input) {
      const outcome = await ctx.workflow.step<ActionOutcome>(
        ctx.stepName,
        async (step) => {
          try {
            const parsed = action.parseInput(input);
            const actionCtx: ActionContext<never> = {
              agentId: ctx.workflow.workflowId,
              agentType: 'workflow',
              state: options.state as never,
              now: Date.now(),
              signal: step.signal,
              task: undefined,
              idempotencyKey: ctx.idempotencyKey,
              get registry(): never {
                throw new PermanentError(
                  `action "${action.name}" runs as a tool of a workflow: it has no registry`,
                  { code: 'registry_unavailable' },
                );
              },
            };
            const returned = await action.run(actionCtx, parsed);
            if (returned instanceof ActionResult && returned.directives.length > 0) {
              throw new PermanentError(
                `action "${action.name}" returned directives: an action run as a tool has no agent to apply them to`,
                { code: 'directives_unsupported' },
              );
            }
            const output: unknown = returned instanceof ActionResult ? returned.output : returned;
            return { ok: true, output: action.parseOutput(output) };
          } catch (e) {
            if (isPermanentError(e)) return { ok: false, code: e.code, message: e.message };
            throw e; // journaled as the step's failure (after its retries): the model hears of it
          }
        },
        options.retry === undefined ? undefined : { retry: options.retry },
      );
      if (!outcome.ok) throw new PermanentError(outcome.message, { code: outcome.code });
      return outcome.output;
    },
  };
}

export interface CapabilityToolOptions extends ApprovalOptions {
  /** Default: the action's description. */
  readonly description?: string;
  /** How long the call may wait for an agent's result, in ms (journaled deadline). Default: no limit. */
  readonly timeoutMs?: number;
  /** Attempts of the agent's action. */
  readonly retry?: DispatchRetryPolicy;
}

/**
 * A call handed to an agent with `capability` through `ctx.dispatch`, the way one agent delegates to
 * another across nodes. The dispatch is the call's journal entry; the agent sees the dispatch's own
 * idempotency key (`<workflow id>:<step index>`). An agent's failure (`dispatch_failed`) or a timeout
 * goes back to the model as the call's error.
 */
export function capabilityTool<I, O>(
  capability: string,
  action: DispatchableAction<I, O> & {
    readonly description?: string | undefined;
    readonly inputSchema: z.ZodType;
  },
  options: CapabilityToolOptions = {},
): DurableTool {
  return {
    description: options.description ?? action.description,
    inputSchema: action.inputSchema,
    ...approvalOf(options),
    call(ctx, input) {
      return ctx.workflow.dispatch(action, input as I, {
        capability,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.retry === undefined ? {} : { retry: options.retry }),
      });
    },
  };
}

export interface WorkflowToolOptions extends ApprovalOptions {
  readonly description?: string;
  /** The tool's input as the model is told; each call's input is the child's input. */
  readonly inputSchema: z.ZodType;
}

/**
 * A call run as a child workflow of the loop's run (`ctx.child`), its id `<run id>:<step index>`: the
 * child's start and result are journaled, so a call that finished is not started again after a crash,
 * and the child has a journal of its own. The child's failure goes back to the model as the call's error.
 */
export function workflowTool<I, O>(workflow: WorkflowRef<I, O>, options: WorkflowToolOptions): DurableTool {
  return {
    ...(options.description === undefined ? {} : { description: options.description }),
    inputSchema: options.inputSchema,
    ...approvalOf(options),
    call(ctx, input) {
      return ctx.workflow.child(workflow, input as I);
    },
  };
}

/** The text the model is given for a failed call. */
export function toolErrorText(e: unknown): string {
  if (e instanceof GarrisonError && e.code === 'step_failed') {
    const inner = (e.details?.error as { message?: unknown } | undefined)?.message;
    if (typeof inner === 'string') return inner;
  }
  return e instanceof Error ? e.message : String(e);
}
