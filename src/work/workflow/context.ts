/**
 * The workflow context: what a workflow's code calls. Each operation takes the next step index
 * synchronously, in call order (so `Promise.all` over steps numbers them deterministically), and either
 * answers from the journal (replay) or does the work and journals it.
 */
import { ValidationError } from '../../errors.js';
import type { Tx } from '../../store/index.js';
import { startChild } from './children.js';
import { dispatchAll } from './dispatch-all.js';
import { dispatch, dispatchTarget } from './dispatch-step.js';
import { asError } from './errors.js';
import type { RunExecution } from './execution.js';
import { checkName } from './names.js';
import { deprecatePatch, patched } from './patches.js';
import { journaledStep } from './steps.js';
import type {
  ChildHandle,
  DispatchableAction,
  DispatchAllOptions,
  DispatchAllResult,
  DispatchOptions,
  StartChildOptions,
  StepContext,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowRef,
} from './types.js';
import { sleepUntil, waitForSignal } from './waits.js';

/** The context a workflow's code is given (a class: one small object per run). */
export class Context implements WorkflowContext {
  constructor(private readonly run: RunExecution) {}

  get workflowId(): string {
    return this.run.id;
  }

  get workflowName(): string {
    return this.run.def.name;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }

  patched(changeId: string): boolean {
    return patched(this.run, changeId);
  }

  deprecatePatch(changeId: string): void {
    deprecatePatch(this.run, changeId);
  }

  step<T>(name: string, fn: (step: StepContext) => Promise<T>, options?: StepOptions<T>): Promise<T> {
    return journaledStep(this.run, checkName(name, 'ctx.step'), 'step', options, fn);
  }

  transactionStep<T>(
    name: string,
    fn: (tx: Tx, step: StepContext) => Promise<T>,
    options?: StepOptions<T>,
  ): Promise<T> {
    return journaledStep(this.run, checkName(name, 'ctx.transactionStep'), 'transaction', options, fn);
  }

  sleep(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return Promise.reject(
        new ValidationError(`ctx.sleep needs a non-negative number of ms, got ${String(ms)}`),
      );
    }
    return sleepUntil(this.run, this.run.host.clock.now() + ms);
  }

  sleepUntil(time: Date | number): Promise<void> {
    const at = time instanceof Date ? time.getTime() : time;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      return Promise.reject(
        new ValidationError(`ctx.sleepUntil needs a Date or UNIX epoch ms, got ${String(time)}`),
      );
    }
    return sleepUntil(this.run, at);
  }

  waitForSignal<T = unknown>(name: string, options?: WaitForSignalOptions): Promise<T | undefined> {
    return waitForSignal(this.run, checkName(name, 'ctx.waitForSignal'), options) as Promise<T | undefined>;
  }

  startChild<I, O>(
    workflow: WorkflowRef<I, O>,
    input: I,
    options?: StartChildOptions,
  ): Promise<ChildHandle<O>> {
    return startChild(this.run, workflow, input, options) as Promise<ChildHandle<O>>;
  }

  async child<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: StartChildOptions): Promise<O> {
    const handle = await this.startChild(workflow, input, options);
    return handle.result();
  }

  dispatch<I, O>(action: DispatchableAction<I, O>, input: I, options?: DispatchOptions): Promise<O>;
  dispatch<T = unknown>(capability: string, action: string, input?: unknown): Promise<T>;
  dispatch(target: unknown, second: unknown, third?: unknown): Promise<unknown> {
    if (typeof target === 'string') {
      const action = checkName(second, 'ctx.dispatch');
      return dispatch(this.run, checkName(target, 'ctx.dispatch'), action, third, {});
    }
    const { capability, action, options } = dispatchTarget(target, third);
    // Bad input fails here, in the workflow, naming the fields, before anything is handed off.
    (target as DispatchableAction<unknown, unknown>).parseInput(second);
    return dispatch(this.run, capability, action, second, options);
  }

  dispatchAll<I, O>(
    action: DispatchableAction<I, O>,
    input: I,
    options?: DispatchAllOptions,
  ): Promise<Array<DispatchAllResult<O>>> {
    try {
      return dispatchAll(this.run, action, input, options) as Promise<Array<DispatchAllResult<O>>>;
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }
}

/** A step's context: a class, so the many made on the hot path cost one small object each. */
export class StepCtx implements StepContext {
  constructor(
    private readonly run: RunExecution,
    readonly stepIndex: number,
    readonly attempt: number,
  ) {}

  get workflowId(): string {
    return this.run.id;
  }

  get idempotencyKey(): string {
    return `${this.run.id}:${this.stepIndex}`;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }
}
