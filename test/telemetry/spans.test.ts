import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Exception,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeTraceIds, withSpan } from '../../src/telemetry/index.js';

/** The smallest context manager that follows async work: AsyncLocalStorage. */
class AsyncContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

/** A span that records what was done to it. */
class RecordedSpan implements Span {
  readonly attributes: Attributes = {};
  readonly exceptions: Exception[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  ended = false;
  constructor(
    readonly name: string,
    private readonly context: SpanContext,
    readonly parentSpanId: string | undefined,
    attributes: Attributes | undefined,
  ) {
    Object.assign(this.attributes, attributes);
  }
  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: Attributes[string]): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: Exception): void {
    this.exceptions.push(exception);
  }
}

class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = trace.getSpan(ctx)?.spanContext();
    const span = new RecordedSpan(
      name,
      {
        traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: 1,
      },
      parent?.spanId,
      options.attributes,
    );
    this.spans.push(span);
    return span;
  }
  startActiveSpan(): never {
    throw new Error('withSpan does not use startActiveSpan');
  }
}

const tracer = new RecordingTracer();
const provider: TracerProvider = { getTracer: () => tracer };
const byName = (name: string) => {
  const span = tracer.spans.find((s) => s.name === name);
  if (span === undefined) throw new Error(`no span ${name}`);
  return span;
};

describe('withSpan without any SDK registered', () => {
  it('just runs the function (the API is a no-op)', async () => {
    await expect(withSpan('noop', { a: 1 }, () => 42)).resolves.toBe(42);
    expect(activeTraceIds()).toBeUndefined();
  });
});

describe('withSpan with a tracer provider and context manager registered', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncContextManager());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('makes nested spans children of the active span, across awaits', async () => {
    await withSpan('workflow', { 'workflow.id': 'w1' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await withSpan('step', { step: 1 }, async () => {
        await Promise.resolve();
        await withSpan('call', {}, () => 'done');
      });
    });
    const [workflow, step, call] = [byName('workflow'), byName('step'), byName('call')];
    expect(workflow.parentSpanId).toBeUndefined();
    expect(step.parentSpanId).toBe(workflow.spanContext().spanId);
    expect(call.parentSpanId).toBe(step.spanContext().spanId);
    expect(new Set([workflow, step, call].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(workflow.attributes).toEqual({ 'workflow.id': 'w1' });
    expect([workflow, step, call].every((s) => s.ended && s.status.code === SpanStatusCode.OK)).toBe(true);
  });

  it('keeps concurrent siblings apart: each child links to its own parent', async () => {
    const child = (parent: string) =>
      withSpan(parent, {}, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        await withSpan(`${parent}.child`, {}, () => undefined);
      });
    await Promise.all([child('left'), child('right')]);
    expect(byName('left.child').parentSpanId).toBe(byName('left').spanContext().spanId);
    expect(byName('right.child').parentSpanId).toBe(byName('right').spanContext().spanId);
  });

  it('records an exception with status ERROR, ends the span and rethrows', async () => {
    const failure = new Error('step failed');
    await expect(
      withSpan('failing', {}, () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    const span = byName('failing');
    expect(span.exceptions).toEqual([failure]);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'step failed' });
    expect(span.ended).toBe(true);
  });

  it('exposes the active trace and span ids for log correlation', async () => {
    const ids = await withSpan('correlated', {}, () => activeTraceIds());
    expect(ids).toEqual({
      traceId: byName('correlated').spanContext().traceId,
      spanId: byName('correlated').spanContext().spanId,
    });
    expect(activeTraceIds()).toBeUndefined();
  });

  it('uses an explicitly given tracer', async () => {
    const own = new RecordingTracer();
    await withSpan('explicit', {}, () => undefined, { tracer: own });
    expect(own.spans.map((s) => s.name)).toEqual(['explicit']);
  });
});
