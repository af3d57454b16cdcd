/**
 * Dispatched steps: work a workflow hands to an agent elsewhere. The hand-off is durable — the journal
 * entry (status `pending`) is committed before the dispatcher is called, the run waits, and the result is
 * journaled by `engine.completeDispatched` / `engine.failDispatched`, from any node. After a restart the
 * request is handed off again (at least once); `idempotencyKey` lets the receiver see the repeat.
 */
import type { DispatchNote } from './dispatch-notes.js';
import { errorInfo } from './errors.js';
import type { WorkflowErrorInfo } from './types.js';

/** One step handed to a dispatcher. */
export interface DispatchRequest {
  readonly workflowId: string;
  readonly stepIndex: number;
  readonly capability: string;
  readonly action: string;
  readonly input: unknown;
  /** `<workflow id>:<step index>`: the same on every hand-off of this step. */
  readonly idempotencyKey: string;
  /** Attempts of the action (`ctx.dispatch` option `retry.maxAttempts`). Default: the dispatcher's. */
  readonly maxAttempts?: number;
  /** Resources the step needs on its agent (`ctx.dispatch` option `requires`). */
  readonly requires?: Readonly<Record<string, number>>;
  /**
   * Pinned to this agent (one part of `ctx.dispatchAll`): only it may run the step. When it is not
   * healthy at the hand-off, or is gone or unhealthy before it answers, the step fails with
   * `agent_unavailable` instead of moving to another agent.
   */
  readonly agentId?: string;
}

/** Where a dispatched step's outcome goes: into the run's journal. */
export interface DispatchResults {
  /** Journals the step's result; false when the step was not waiting any more (already answered). */
  completeDispatched(workflowId: string, stepIndex: number, output: unknown): Promise<boolean>;
  /** Journals the step's failure (the workflow sees `dispatch_failed`). */
  failDispatched(workflowId: string, stepIndex: number, error: unknown): Promise<boolean>;
  /**
   * Records on the waiting step why it waits or how an attempt ended (its timeline); false when the
   * step is not waiting any more.
   */
  noteDispatched?(workflowId: string, stepIndex: number, note: DispatchNote): Promise<boolean>;
}

/**
 * Accepts dispatched steps. `dispatch` should return once the request is safely handed over (queued,
 * persisted, sent); the outcome comes back later through `results`. A rejection is journaled as the
 * step's failure, so reject only when the request can never be carried out.
 */
export interface Dispatcher {
  dispatch(request: DispatchRequest, results: DispatchResults): Promise<void>;
  /**
   * True when a request handed over survives a crash of this process (it is in the store): a run
   * waiting for it may then be parked (docs/workflows.md), since nothing hands it off again. Default
   * false: such a run stays in memory, and after a restart its request is handed off again.
   */
  readonly durable?: boolean;
  /**
   * The step failed at its deadline (`timeoutMs`): drop what still waits for an agent, so that no agent
   * starts it late. Work an agent already holds is left to finish (its late answer is ignored).
   */
  withdraw?(request: DispatchRequest): Promise<void>;
  /**
   * The agents that may take a step needing `capability` now (healthy ones): the participants of a
   * fan-out (`ctx.dispatchAll`), which journals them. Without it a fan-out fails with `no_dispatcher`.
   */
  participants?(capability: string): Promise<readonly string[]>;
}

/** A handler of the in-process dispatcher. */
export type LocalHandler = (input: unknown, request: DispatchRequest) => Promise<unknown>;

/**
 * An in-process dispatcher for tests and single-node use: runs the handler registered for
 * `capability`/`action` in the background and journals its outcome.
 */
export function createLocalDispatcher(
  handlers: Record<string, Record<string, LocalHandler>>,
  options: { onError?: (error: unknown) => void } = {},
): Dispatcher {
  const report =
    options.onError ??
    ((error: unknown) => process.emitWarning(`local dispatcher: ${String(error)}`, 'GarrisonWarning'));
  return {
    async dispatch(request, results) {
      const handler = handlers[request.capability]?.[request.action];
      if (handler === undefined) {
        throw new Error(`no local handler for ${request.capability}.${request.action}`);
      }
      void (async () => {
        let outcome: { ok: true; value: unknown } | { ok: false; error: WorkflowErrorInfo };
        try {
          outcome = { ok: true, value: await handler(request.input, request) };
        } catch (error) {
          outcome = { ok: false, error: errorInfo(error) };
        }
        if (outcome.ok)
          await results.completeDispatched(request.workflowId, request.stepIndex, outcome.value);
        else await results.failDispatched(request.workflowId, request.stepIndex, outcome.error);
      })().catch(report);
    },
  };
}
