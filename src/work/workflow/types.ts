/**
 * The public shapes of durable workflows: statuses, runs, the context a workflow and its steps see, and
 * step options. The documentation of the model lives here and in docs/workflows.md.
 */
import type { Tx } from '../../store/index.js';

/** Where a run is in its life. */
export const WorkflowStatus = {
  /** Accepted and durable, not yet picked up by a node (over the concurrency limit, resumed, …). */
  pending: 'pending',
  /** Executing on its owner node. */
  running: 'running',
  /** In a durable sleep (`ctx.sleep`, or waiting for a step's next retry). */
  sleeping: 'sleeping',
  /** Waiting for something from outside: a signal, a child workflow, a dispatched step. */
  waiting: 'waiting',
  /** Stopped by `pause`; nothing runs until `resume`. */
  paused: 'paused',
  /** Finished; `output` holds the result. */
  completed: 'completed',
  /** Finished with an error (after compensation); `error` says why. */
  failed: 'failed',
  /** Cancelled (after compensation). */
  cancelled: 'cancelled',
} as const;
export type WorkflowStatus = (typeof WorkflowStatus)[keyof typeof WorkflowStatus];

/** Statuses of runs that are not finished and not paused: some node is or will be executing them. */
export const ACTIVE_STATUSES: readonly WorkflowStatus[] = ['pending', 'running', 'sleeping', 'waiting'];
/** Statuses a run never leaves. */
export const FINAL_STATUSES: readonly WorkflowStatus[] = ['completed', 'failed', 'cancelled'];

/** An error as stored in the journal or on a run: plain data, so it survives a restart. */
export interface WorkflowErrorInfo {
  readonly name: string;
  readonly message: string;
  /** The `code` of a Garrison error (or any error carrying a string `code`). */
  readonly code?: string;
  readonly details?: Record<string, unknown>;
}

/** A run as stored. */
export interface WorkflowRun<O = unknown> {
  readonly id: string;
  readonly name: string;
  readonly status: WorkflowStatus;
  readonly input: unknown;
  /** The workflow's result once `completed`. */
  readonly output: O | undefined;
  /** Why the run failed or was cancelled. */
  readonly error: WorkflowErrorInfo | undefined;
  /** The run that started this one as a child. */
  readonly parentId: string | undefined;
  /** The node holding (or last holding) the run's lease. */
  readonly owner: string | undefined;
  /** Until when the owner's lease holds, UNIX epoch ms. */
  readonly leaseUntil: number | undefined;
  /** When a sleeping or waiting run next needs attention, UNIX epoch ms. */
  readonly wakeAt: number | undefined;
  /** A pause or cancel requested and not yet carried out. */
  readonly control: 'pause' | 'cancel' | undefined;
  /** UNIX epoch ms. */
  readonly createdAt: number;
  /** UNIX epoch ms. */
  readonly updatedAt: number;
  /** UNIX epoch ms; set once the run is completed, failed or cancelled. */
  readonly finishedAt: number | undefined;
  /** The W3C trace id of the run's trace (its start span's), when it was started with tracing on. */
  readonly traceId?: string;
}

/** The kinds of journal entries. */
export type StepKind = 'step' | 'transaction' | 'sleep' | 'signal' | 'child' | 'dispatch' | 'compensation';

/** One journal entry as `engine.steps(id)` shows it. */
export interface WorkflowStepInfo {
  readonly index: number;
  readonly name: string;
  readonly kind: StepKind;
  readonly status: 'pending' | 'retrying' | 'completed' | 'failed';
  readonly output: unknown;
  readonly error: WorkflowErrorInfo | undefined;
  readonly attempts: number;
  /** A sleep's end, a retry's next attempt or a wait's timeout, UNIX epoch ms. */
  readonly dueAt: number | undefined;
  /** When the step began (its first attempt; a wait or dispatch when it was entered), UNIX epoch ms. */
  readonly startedAt: number;
  /** When it completed or failed, UNIX epoch ms; undefined while it is pending or retrying. */
  readonly finishedAt: number | undefined;
  /** `finishedAt - startedAt` in ms, retries and their waits included; undefined until it ends. */
  readonly durationMs: number | undefined;
  /** A pending dispatched step: why it has no result yet. */
  readonly waiting?: DispatchWait;
  /** A dispatched step: every attempt of the agent's action so far, in order. */
  readonly attemptLog?: readonly DispatchAttempt[];
}

/** How a step is retried when its function throws. The wait before each retry is durable. */
export interface StepRetryPolicy {
  /** Attempts in all, the first included. Default 1 (no retry). */
  readonly maxAttempts?: number;
  /** Wait before the second attempt, in ms. Default 1000. */
  readonly initialDelayMs?: number;
  /** Each further wait is the previous one times this. Default 2. */
  readonly backoffFactor?: number;
  /** Longest wait between attempts, in ms. Default 60000. */
  readonly maxDelayMs?: number;
  /** Whether an error deserves another attempt. Default: every error. */
  readonly retryIf?: (error: unknown) => boolean;
}

/** What a step's function is given. */
export interface StepContext {
  readonly workflowId: string;
  /** The step's index in the journal. */
  readonly stepIndex: number;
  /**
   * `<workflow id>:<step index>`: the same on every attempt and after every restart. Pass it to external
   * systems so an effect repeated after a crash is recognised and done once.
   */
  readonly idempotencyKey: string;
  /** 1 for the first attempt, 2 for the first retry, … (retries only; a replay does not count). */
  readonly attempt: number;
  /** Aborted when the run is cancelled or its node stops executing it. */
  readonly signal: AbortSignal;
}

export interface StepOptions<T> {
  /** Retry policy. Default: no retry. */
  readonly retry?: StepRetryPolicy;
  /**
   * Undoes the step's effect. When the run fails or is cancelled, the compensations of every finished
   * step run in reverse step order, each journaled (so it runs to completion once, at least once).
   */
  readonly compensate?: (output: T, step: StepContext) => Promise<void>;
}

export interface WaitForSignalOptions {
  /** Give up after this many ms and return `undefined`. Default: wait for ever. */
  readonly timeoutMs?: number;
}

export interface StartChildOptions {
  /** The child's id. Default `<parent id>:<step index>`, the same on every replay. */
  readonly workflowId?: string;
}

/** A child workflow started from a workflow. */
export interface ChildHandle<O> {
  readonly workflowId: string;
  /** The child's result; throws `child_workflow_failed` when the child failed or was cancelled. */
  result(): Promise<O>;
}

/** A workflow definition a child may be started from: the definition itself or its name. */
export type WorkflowRef<I, O> = WorkflowDefinition<I, O> | string;

/**
 * What a workflow's function is given. Everything with an effect goes through it; between these calls
 * the code must be deterministic (same input and journal → same calls in the same order).
 */
export interface WorkflowContext {
  readonly workflowId: string;
  readonly workflowName: string;
  /** Aborted when the run is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Whether this run takes the new code of change `changeId` (1–150 of letters, digits, `_ . : -`):
   * true for runs that reach this point on code that has the call (journaled, so a replay answers the
   * same), false for runs that passed this point on the code before it. See docs/workflows.md,
   * _Changing code safely_.
   */
  patched(changeId: string): boolean;
  /**
   * Takes the place of `patched(changeId)` once no run that took the old path is left: consumes the
   * marker of a run that journaled one here, and is nothing for the others.
   */
  deprecatePatch(changeId: string): void;
  /**
   * Runs `fn` once and journals its result under the next step index; after a restart the journaled
   * result is returned without running `fn` again. Effects outside the store are at least once: use
   * `step.idempotencyKey` to make them exactly once on the other side.
   */
  step<T>(name: string, fn: (step: StepContext) => Promise<T>, options?: StepOptions<T>): Promise<T>;
  /**
   * Runs `fn` inside the same store transaction that journals its result: its writes through `tx` and
   * the journal entry commit together, so the effect happens exactly once.
   */
  transactionStep<T>(
    name: string,
    fn: (tx: Tx, step: StepContext) => Promise<T>,
    options?: StepOptions<T>,
  ): Promise<T>;
  /** Sleeps durably for `ms` ms: the wake-up time is journaled and survives restarts. */
  sleep(ms: number): Promise<void>;
  /** Sleeps durably until `time` (a Date or UNIX epoch ms). */
  sleepUntil(time: Date | number): Promise<void>;
  /**
   * Waits for a signal named `name` sent with `engine.signal`; one sent before the wait is kept and
   * consumed here. Resolves with its data, or `undefined` when `timeoutMs` passes first.
   */
  waitForSignal<T = unknown>(name: string, options?: WaitForSignalOptions): Promise<T | undefined>;
  /** Starts a child workflow (its start is journaled, its id derived from this step). */
  startChild<I, O>(
    workflow: WorkflowRef<I, O>,
    input: I,
    options?: StartChildOptions,
  ): Promise<ChildHandle<O>>;
  /** Starts a child workflow and waits for its result. */
  child<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: StartChildOptions): Promise<O>;
  /**
   * A step performed by an agent elsewhere: handed to the engine's dispatcher once its entry is
   * journaled; the run waits (status `waiting`) until the result is journaled. `action` is an agent's
   * action (`agentDefinition.action('validate')`, or the `defineAction` value itself with
   * `options.capability`): its input and output types come from its schemas. Fails with
   * `dispatch_failed` (the agent's error in `details.error`) or, past `options.timeoutMs`, with
   * `no_capable_agent` / `dispatch_timeout`.
   */
  dispatch<I, O>(action: DispatchableAction<I, O>, input: I, options?: DispatchOptions): Promise<O>;
  /**
   * @deprecated Untyped form, kept for compatibility: pass an action (`agent.action('name')`) instead.
   */
  dispatch<T = unknown>(capability: string, action: string, input?: unknown): Promise<T>;
  /**
   * Fan-out: the same action on every healthy agent with the capability, one dispatched step each,
   * gathered. The participants are read from the registry once and journaled (a replay sees the same
   * set). Without `quorum` it waits for every answer; with it, for `quorum` successes, and the parts
   * still running then are cancelled (`dispatch_cancelled`). Per-agent failures are in the result; it
   * throws only `quorum_not_met` (fewer successes than `quorum` are possible) or `no_capable_agent`
   * (nobody to ask, without `quorum`). See docs/workflows.md.
   */
  dispatchAll<I, O>(
    action: DispatchableAction<I, O>,
    input: I,
    options?: DispatchAllOptions,
  ): Promise<Array<DispatchAllResult<O>>>;
}

/** Options of `ctx.dispatchAll`: those of `ctx.dispatch`, and the fan-out's own. */
export interface DispatchAllOptions extends DispatchOptions {
  /**
   * Successful answers needed, 1 or more. Once reached the other parts are cancelled; once it cannot be
   * reached any more the fan-out fails with `quorum_not_met`. Default: wait for every participant.
   */
  readonly quorum?: number;
  /**
   * Most participants (the first in agent id order). Also the number of journal indices the fan-out
   * reserves, so it must stay the same across versions of the workflow. Default 32, at most 256.
   */
  readonly maxParticipants?: number;
}

/** One participant's answer in a fan-out. */
export type DispatchAllResult<O> =
  | { readonly agent: string; readonly ok: true; readonly value: O }
  | { readonly agent: string; readonly ok: false; readonly error: WorkflowErrorInfo };

/**
 * An action a workflow can dispatch: what `defineAction` returns (then `options.capability` is needed)
 * or `agentDefinition.action(name)` (which carries the agent's first capability). Only the name and the
 * capability travel; the input type is the input schema's (a Standard Schema, as zod 4's are), the
 * output type `parseOutput`'s.
 */
export interface DispatchableAction<I, O> {
  readonly name: string;
  /** The capability the step is routed by; `DispatchOptions.capability` wins over it. */
  readonly capability?: string;
  readonly inputSchema: { readonly '~standard': { readonly types?: { readonly input: I } | undefined } };
  /** Validates an input (throws `invalid_input`). */
  parseInput(input: unknown): unknown;
  parseOutput(output: unknown): O;
}

/** Options of `ctx.dispatch`. */
export interface DispatchOptions {
  /** The capability agents must have. Default: the action's own (`agent.action(name)`). */
  readonly capability?: string;
  /**
   * How long the step may wait for its result, in ms, from its first hand-off; the deadline is journaled
   * (it survives restarts). Past it the step fails: `no_capable_agent` when no healthy agent with the
   * capability ever took it, else `dispatch_timeout`. Default: no limit.
   */
  readonly timeoutMs?: number;
  /** Attempts of the agent's action (the queue's retries). */
  readonly retry?: DispatchRetryPolicy;
  /**
   * Resources the step needs on its agent (`{ memory_mb: 512 }`, names as agents report them in the
   * registry): it goes only to an agent with that much free, and holds it while queued or running
   * there. Default none.
   */
  readonly requires?: Readonly<Record<string, number>>;
}

/** How often an agent runs a dispatched action that fails with a retryable error. */
export interface DispatchRetryPolicy {
  /**
   * Attempts in all, the first included; a crash or a lost lease uses one too. Default: the task
   * distributor's `maxAttempts` (5).
   */
  readonly maxAttempts?: number;
}

/** Why a dispatched step has no result yet, as recorded on its journal entry. */
export interface DispatchWait {
  /**
   * `no_capable_agent`: parked until a healthy agent with the capability exists; `no_capacity`: parked
   * until one has the resources the step requires free; `assigned`: on an agent.
   */
  readonly reason: 'no_capable_agent' | 'no_capacity' | 'assigned';
  readonly capability: string;
  /** The agent holding the step (`assigned`). */
  readonly agentId?: string;
  /** Since when, UNIX epoch ms. */
  readonly since: number;
  readonly message: string;
}

/** One attempt of a dispatched action, as the step's timeline shows it. */
export interface DispatchAttempt {
  readonly attempt: number;
  readonly agentId: string;
  /** When it ended, UNIX epoch ms. */
  readonly at: number;
  /** Its error; absent for the attempt that succeeded. */
  readonly error?: WorkflowErrorInfo;
  /** True when the queue runs the action again. */
  readonly retried: boolean;
}

/** A workflow's code. */
export type WorkflowFunction<I, O> = (ctx: WorkflowContext, input: I) => Promise<O>;

/** A minimal schema: anything with zod's `safeParse` (zod 4 schemas qualify). */
export interface InputSchema<I> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: I }
    | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };
}

export interface WorkflowDefinitionOptions<I> {
  /** Validates the input at `start`; an invalid input is rejected before anything is written. */
  readonly inputSchema?: InputSchema<I>;
  /** Retry policy for every step of this workflow that sets none. Default: no retry. */
  readonly defaultStepRetry?: StepRetryPolicy;
}

/** A named workflow, made by `defineWorkflow`. */
export interface WorkflowDefinition<I = unknown, O = unknown> {
  readonly name: string;
  // A method, so a definition of any input type is assignable to WorkflowDefinition<unknown, unknown>.
  run(ctx: WorkflowContext, input: I): Promise<O>;
  readonly inputSchema: InputSchema<I> | undefined;
  readonly defaultStepRetry: StepRetryPolicy | undefined;
}

/** A run started with `engine.start`. */
export interface WorkflowHandle<O = unknown> {
  readonly workflowId: string;
  /** False when a run with this id existed already (the start was idempotent). */
  readonly created: boolean;
  /** Waits for the run to finish: its output, or `workflow_failed` / `workflow_cancelled`. */
  result(options?: ResultOptions): Promise<O>;
  get(): Promise<WorkflowRun<O> | undefined>;
}

export interface StartOptions {
  /** The run's id and idempotency key: starting an existing id returns that run. Default: a UUID. */
  readonly workflowId?: string;
}

export interface ResultOptions {
  /** Give up waiting after this many ms with `workflow_timeout` (the run goes on). Default: no limit. */
  readonly timeoutMs?: number;
}

export interface ListOptions {
  readonly status?: WorkflowStatus | readonly WorkflowStatus[];
  readonly name?: string;
  readonly parentId?: string;
  /** Only runs created at or after this time, UNIX epoch ms. */
  readonly createdAfter?: number;
  /** Most runs returned. Default 100, at most 10000. */
  readonly limit?: number;
  /** Runs skipped (newest first). Default 0. */
  readonly offset?: number;
}
