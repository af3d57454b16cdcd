/**
 * Trace context through the store, per kind of row, on both stores: a run, a task and a message store
 * the context of the span that created them, and whoever executes them later — another engine after the
 * first one stopped, a worker, a consumer — makes its span a child of it. Real SDK spans (an in-memory
 * exporter), real stores.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDurableDelivery } from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import {
  SpanName,
  captureTraceContext,
  getTracer,
  restoreTraceContext,
  tracingEnabled,
} from '../../src/telemetry/index.js';
import {
  createQueueClient,
  createWorker,
  createWorkflowEngine,
  defineWorkflow,
} from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const exporter = new InMemorySpanExporter();
let provider: NodeTracerProvider | undefined;

const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

/** Waits (turns of the event loop with real I/O) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs `fn` in a root span named `name`; answers its result and the span's ids. */
async function inSpan<T>(name: string, fn: () => Promise<T>) {
  const span = getTracer().startSpan(name);
  try {
    const result = await context.with(trace.setSpan(context.active(), span), fn);
    return { result, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
  } finally {
    span.end();
  }
}

it('without an SDK nothing is captured, restored or built', () => {
  expect(tracingEnabled()).toBe(false);
  expect(captureTraceContext()).toBeUndefined();
  expect(restoreTraceContext('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
});

describe('with an SDK registered', () => {
  beforeAll(() => {
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
  });
  afterAll(async () => {
    await provider?.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  afterEach(() => exporter.reset());

  it('a captured context restores to the same trace and parent; malformed ones start no trace', async () => {
    expect(tracingEnabled()).toBe(true);
    const { result: carrier, traceId, spanId } = await inSpan('caller', async () => captureTraceContext());
    expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: null });
    const restored = restoreTraceContext(carrier!.traceparent, 'vendor=abc');
    expect(trace.getSpanContext(restored!)).toMatchObject({ traceId, spanId, isRemote: true });
    expect(trace.getSpanContext(restored!)?.traceState?.get('vendor')).toBe('abc');
    for (const bad of ['', 'nonsense', `ff-${traceId}-${spanId}-01`, `00-${'0'.repeat(32)}-${spanId}-01`])
      expect(restoreTraceContext(bad)).toBeUndefined();
  });

  describe.each(adapters)('on $name', (adapter) => {
    const stores: Store[] = [];
    const stops: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const stop of stops.splice(0).reverse()) await stop();
      for (const store of stores.splice(0)) await store.close();
    });
    const open = async (url = adapter.freshUrl()) => {
      const store = await openStore(url);
      stores.push(store);
      return { store, url };
    };

    it('a run stores its start span; each execution, on any engine, continues that trace', async () => {
      const { store, url } = await open();
      const clock = new VirtualClock();
      const flow = defineWorkflow('traced.flow', async (ctx) => {
        const a = await ctx.step('first', () => Promise.resolve(1));
        const data = await ctx.waitForSignal('go');
        return a + Number(data);
      });
      const first = createWorkflowEngine({ store, clock, nodeId: 'n1', recoverIntervalMs: 0 });
      first.register(flow);
      const caller = await inSpan('caller', () => first.start(flow, {}, { workflowId: 'run-1' }));
      await until(async () => (await first.get('run-1'))?.status === 'waiting', 'the run to wait');
      await first.stop();

      const rows = await store.query<{ traceparent: string | null }>(
        'SELECT traceparent FROM garrison_workflow_runs WHERE id = $1',
        ['run-1'],
      );
      const [start] = named(SpanName.workflowStart);
      expect(start?.spanContext().traceId).toBe(caller.traceId);
      expect(parentId(start!)).toBe(caller.spanId);
      expect(rows[0]?.traceparent).toBe(`00-${caller.traceId}-${start!.spanContext().spanId}-01`);
      expect((await first.get('run-1'))?.traceId).toBe(caller.traceId);

      // Another engine (another store connection: another node) takes the run over and finishes it.
      const other = await open(url);
      const second = createWorkflowEngine({ store: other.store, clock, nodeId: 'n2', recoverIntervalMs: 0 });
      stops.push(() => second.stop());
      second.register(flow);
      await second.recover();
      await second.signal('run-1', 'go', 41);
      expect(await second.result('run-1')).toBe(42);
      // Every execution (the first, and the second engine's — parked and woken again, maybe) ends.
      await until(
        () => named(SpanName.workflowRun).some((r) => r.attributes['garrison.outcome'] === 'completed'),
        'the completing execution to end',
      );

      const runs = named(SpanName.workflowRun);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      for (const run of runs) {
        expect(run.spanContext().traceId).toBe(caller.traceId);
        expect(parentId(run)).toBe(start!.spanContext().spanId);
        expect(run.attributes['garrison.run_id']).toBe('run-1');
      }
      const [step] = named(SpanName.step);
      expect(step?.attributes).toMatchObject({ 'garrison.step_index': 0, 'garrison.attempt': 1 });
      expect(runs.map((r) => r.spanContext().spanId)).toContain(parentId(step!));
      const waits = named(SpanName.signalWait);
      expect(waits.length).toBeGreaterThanOrEqual(1);
      for (const w of waits) expect(w.spanContext().traceId).toBe(caller.traceId);
    });

    it('a task stores its enqueuer’s span; its attempt on a worker is a child of it, a failure an error', async () => {
      const { store } = await open();
      const queues = createQueueClient({ store });
      const enq = await inSpan('enqueuer', () => queues.enqueue('traced', { n: 1 }, { maxAttempts: 2 }));
      let calls = 0;
      const worker = createWorker({
        store,
        queues: 'traced',
        random: () => 0, // the shortest back-off before the second attempt
        handler: () => {
          calls++;
          if (calls === 1) throw new Error('first attempt fails');
        },
      });
      stops.push(() => worker.stop());
      await worker.start();
      await until(() => named(SpanName.task).length === 2, 'two attempts');
      const attempts = named(SpanName.task).sort(
        (a, b) => Number(a.attributes['garrison.attempt']) - Number(b.attributes['garrison.attempt']),
      );
      for (const a of attempts) {
        expect(a.spanContext().traceId).toBe(enq.traceId);
        expect(parentId(a)).toBe(enq.spanId);
        expect(a.attributes).toMatchObject({
          'messaging.destination.name': 'traced',
          'messaging.message.id': String(enq.result.id),
        });
      }
      expect(attempts[0]?.status.code).toBe(2); // ERROR
      expect(attempts[0]?.events.some((e) => e.name === 'exception')).toBe(true);
      expect(attempts[1]?.status.code).not.toBe(2);
    });

    it('a message stores its sender’s span; its delivery is a consumer span child of it', async () => {
      const { store } = await open();
      const delivery = createDurableDelivery({ store, clock: new VirtualClock() });
      stops.push(() => delivery.close());
      const sent = await inSpan('sender', () => delivery.send('traced-agent', { hello: 1 }));
      await delivery.startConsumer('traced-agent', async () => undefined);
      await until(() => named(SpanName.message).length === 1, 'the delivery');
      const [delivered] = named(SpanName.message);
      expect(delivered?.spanContext().traceId).toBe(sent.traceId);
      expect(parentId(delivered!)).toBe(sent.spanId);
      expect(delivered?.attributes).toMatchObject({
        'messaging.destination.name': 'traced-agent',
        'messaging.message.id': String(sent.result.id),
      });
    });
  });
});
