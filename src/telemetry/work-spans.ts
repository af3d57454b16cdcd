/**
 * The spans of Garrison's work, as hooks the engines call in one line each: a workflow run's execution,
 * its steps, waits and dispatches, queue task attempts, agent actions and message deliveries. Each hook
 * checks `tracingEnabled()` first and, when off, calls the work directly: no span, no attribute object,
 * no closure beyond the caller's own.
 */
import {
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { describeError } from './describe.js';
import { recordStep, workMetricsBound } from './work-meter.js';
import { getTracer } from './spans.js';
import {
  captureTraceContext,
  restoreTraceContext,
  tracingEnabled,
  type TraceCarrier,
} from './trace-context.js';

/** Span names (stable: dashboards and tests select on them). */
export const SpanName = {
  /** A run's start (the caller's side): the parent of every execution of the run. */
  workflowStart: 'garrison.workflow.start',
  /** One execution of a run on one node, from its take-over to its end, park or halt. */
  workflowRun: 'garrison.workflow.run',
  /** One attempt of a journaled step (`ctx.step`, `ctx.transactionStep`). */
  step: 'garrison.workflow.step',
  /** A durable sleep (`ctx.sleep`, and the back-off before a step's retry). */
  sleep: 'garrison.workflow.sleep',
  /** A wait for a signal. */
  signalWait: 'garrison.workflow.signal_wait',
  /** A step dispatched to an agent, from hand-off to answer. */
  dispatch: 'garrison.workflow.dispatch',
  /** One attempt of a queue task (a dispatched step on an agent is one too). */
  task: 'garrison.task',
  /** One call of an agent's action. */
  action: 'garrison.agent.action',
  /** One delivery of a durable message to its consumer. */
  message: 'garrison.message.process',
} as const;

/** Attribute names of Garrison's own (`garrison.*`); OTel semantic conventions are used where they exist. */
export const Attr = {
  runId: 'garrison.run_id',
  workflow: 'garrison.workflow',
  stepIndex: 'garrison.step_index',
  stepName: 'garrison.step_name',
  attempt: 'garrison.attempt',
  fence: 'garrison.fence',
  node: 'garrison.node',
  agent: 'garrison.agent',
  capability: 'garrison.capability',
  action: 'garrison.action',
  outcome: 'garrison.outcome',
  taskId: 'garrison.task_id',
  queue: 'garrison.queue',
} as const;

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : describeError(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
  span.setAttribute('error.type', errorType(error));
}

function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : '_OTHER';
}

/**
 * Runs `fn` in a new span named `name`: a child of `parent` when given (a restored stored context),
 * else of the active span. Attributes are built by `attributes()` only when tracing is on.
 */
export function traceWork<T>(
  name: string,
  parent: Context | undefined,
  attributes: () => Attributes,
  fn: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const base = parent ?? context.active();
  const span = getTracer().startSpan(name, { kind, attributes: attributes() }, base);
  let result: Promise<T>;
  try {
    result = context.with(trace.setSpan(base, span), fn);
  } catch (error) {
    fail(span, error);
    span.end();
    throw error;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      fail(span, error);
      span.end();
      throw error;
    },
  );
}

/** `traceWork` under a stored parent: the row's `traceparent` / `tracestate`. */
export function traceStored<T>(
  name: string,
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
  attributes: () => Attributes,
  fn: () => Promise<T>,
  kind?: SpanKind,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  return traceWork(name, restoreTraceContext(traceparent, tracestate), attributes, fn, kind);
}

/** What a run's execution span needs of an execution (structural: the engine lies above this layer). */
export interface TracedRun {
  readonly id: string;
  readonly def: { readonly name: string };
  readonly fence: number;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
  /** Resolves with the execution's outcome once it ends (completed, failed, halted, parked). */
  readonly done: Promise<{ readonly kind: string; readonly reason?: string; readonly error?: unknown }>;
}

/** Spans of waits still open per execution: ended with it when it is parked or halted mid-wait. */
const openWaits = new WeakMap<object, Set<Span>>();

/**
 * Runs a run's execution `body` in a `garrison.workflow.run` span, child of the run's stored context
 * (the start span: every execution of one run, on any node, lands in the start's trace). The span ends
 * when `run.done` resolves; waits still open then end with it, marked with the outcome.
 */
export function traceRunExecution(run: TracedRun, body: () => Promise<void>): Promise<void> {
  if (!tracingEnabled()) return body();
  const parent = restoreTraceContext(run.traceparent, run.tracestate) ?? context.active();
  const span = getTracer().startSpan(
    SpanName.workflowRun,
    {
      attributes: { [Attr.runId]: run.id, [Attr.workflow]: run.def.name, [Attr.fence]: run.fence },
    },
    parent,
  );
  const waits = new Set<Span>();
  openWaits.set(run, waits);
  void run.done.then((outcome) => {
    const label = outcome.reason === undefined ? outcome.kind : `${outcome.kind}:${outcome.reason}`;
    for (const wait of waits) {
      wait.setAttribute(Attr.outcome, label);
      wait.end();
    }
    span.setAttribute(Attr.outcome, label);
    if ((outcome.kind === 'failed' || outcome.kind === 'halted') && outcome.error !== undefined)
      fail(span, outcome.error);
    span.end();
  });
  return context.with(trace.setSpan(parent, span), body);
}

/**
 * A wait of a run (sleep, signal, dispatch): a span that ends when `fn` settles, or with the run's
 * execution when it is parked or halted first (the wait then goes on in a later execution, which makes
 * a span of its own).
 */
export function traceWait<T>(
  run: object,
  name: string,
  attributes: () => Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const waits = openWaits.get(run);
  let span: Span | undefined;
  return traceWork(
    name,
    undefined,
    attributes,
    () => {
      span = trace.getActiveSpan();
      if (span !== undefined) waits?.add(span);
      return fn();
    },
    SpanKind.INTERNAL,
  ).finally(() => {
    if (span !== undefined) waits?.delete(span);
  });
}

/**
 * Starts a run's start span (child of the active context: the caller's trace) and gives the carrier to
 * store with the run; `end` closes it. Tracing off: undefined, nothing made.
 */
export function beginRunStart(
  workflow: string,
  runId: string,
): { readonly carrier: TraceCarrier | undefined; end(error?: unknown): void } | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = context.active();
  const span = getTracer().startSpan(
    SpanName.workflowStart,
    { kind: SpanKind.PRODUCER, attributes: { [Attr.runId]: runId, [Attr.workflow]: workflow } },
    parent,
  );
  return {
    carrier: captureTraceContext(trace.setSpan(parent, span)),
    end(error?: unknown) {
      if (error !== undefined) fail(span, error);
      span.end();
    },
  };
}

/** The active context as a carrier to store with a new row (undefined when tracing is off). */
export function currentCarrier(): TraceCarrier | undefined {
  return captureTraceContext();
}

/** What a task attempt's span needs of a claimed task (structural: the queue lies above this layer). */
export interface TracedTask {
  readonly id: number;
  readonly queue: string;
  readonly attempt: number;
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
}

/** The context of each task attempt's span, by claimed task (gone with the task object). */
const taskContexts = new WeakMap<object, Context>();

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Runs one attempt of a task's handler in a `garrison.task` span (kind consumer), child of the context
 * stored with the task — the span that enqueued it, on whatever node. A handler that returns at once
 * still returns at once; tracing off, `fn` is called and nothing else happens.
 */
export function traceTask<T>(task: TracedTask, fn: () => T): T {
  if (!tracingEnabled()) return fn();
  const parent = restoreTraceContext(task.traceparent, task.tracestate) ?? context.active();
  const span = getTracer().startSpan(
    SpanName.task,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'garrison',
        'messaging.operation.type': 'process',
        'messaging.destination.name': task.queue,
        'messaging.message.id': String(task.id),
        [Attr.taskId]: task.id,
        [Attr.queue]: task.queue,
        [Attr.attempt]: task.attempt,
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  // The agent runs the task's action in its own process (a message away): it finds the span here.
  taskContexts.set(task, active);
  let result: T;
  try {
    result = context.with(active, fn);
  } catch (error) {
    fail(span, error);
    span.end();
    throw error;
  }
  if (!isThenable(result)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      fail(span, error);
      span.end();
      throw error;
    },
  ) as T;
}

/**
 * Runs `fn` with a stored context active (no span of its own), so rows it writes store that context
 * again: a task moved to another queue keeps its parent. Tracing off, or nothing stored: `fn()` as is.
 */
export function withStoredContext<T>(
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
  fn: () => T,
): T {
  if (!tracingEnabled()) return fn();
  const restored = restoreTraceContext(traceparent, tracestate);
  return restored === undefined ? fn() : context.with(restored, fn);
}

/**
 * Runs one call of an agent's action in a `garrison.agent.action` span: a child of the task attempt's
 * span when the action runs a task (the agent's process is another async context, so it is looked up by
 * the task), else of the active span. An outcome `{ ok: false, error }` sets status ERROR like a throw.
 */
export function traceAction<T>(
  agentId: string,
  action: string,
  task: (TracedTask & { readonly payload?: unknown }) | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const parent = task === undefined ? undefined : taskContexts.get(task);
  return traceWork(
    SpanName.action,
    parent,
    () => {
      const d = (task?.payload as { dispatch?: Record<string, unknown> } | null | undefined)?.dispatch;
      return {
        [Attr.agent]: agentId,
        [Attr.action]: action,
        ...(task === undefined ? {} : { [Attr.taskId]: task.id, [Attr.attempt]: task.attempt }),
        ...(d === undefined || d === null
          ? {}
          : {
              [Attr.runId]: String(d.workflowId),
              [Attr.stepIndex]: Number(d.stepIndex),
              [Attr.capability]: String(d.capability),
            }),
      };
    },
    async () => {
      const result = await fn();
      const r = result as { ok?: unknown; error?: unknown } | null;
      if (r !== null && typeof r === 'object' && r.ok === false) {
        const span = trace.getActiveSpan();
        if (span !== undefined) fail(span, r.error);
      }
      return result;
    },
  );
}

/**
 * Runs `fn` in the context a request's W3C headers (`traceparent`, `tracestate`) carry, read through
 * `header`: whatever it starts continues the caller's trace. Tracing off, or no valid header: `fn()`.
 */
export function withIncomingTrace<T>(header: (name: string) => string | undefined, fn: () => T): T {
  if (!tracingEnabled()) return fn();
  const traceparent = header('traceparent');
  if (traceparent === undefined) return fn();
  const restored = restoreTraceContext(traceparent, header('tracestate') ?? null);
  return restored === undefined ? fn() : context.with(restored, fn);
}

/**
 * One attempt of a journaled step: a `garrison.workflow.step` span, and its duration (read from the
 * engine's clock) in `garrison_step_duration_seconds` when a registry is bound.
 */
export function traceStep<T>(
  workflow: string,
  clock: { now(): number },
  attributes: () => Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  if (!workMetricsBound()) return traceWork(SpanName.step, undefined, attributes, fn);
  const started = clock.now();
  return traceWork(SpanName.step, undefined, attributes, fn).then(
    (value) => {
      recordStep(workflow, clock.now() - started, true);
      return value;
    },
    (error: unknown) => {
      recordStep(workflow, clock.now() - started, false);
      throw error;
    },
  );
}
