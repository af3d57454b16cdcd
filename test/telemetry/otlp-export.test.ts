/**
 * `--otlp` in-process: `registerOtlpTracing` loads the SDK, and the spans of a workflow reach a small
 * OTLP/HTTP receiver on 127.0.0.1 with the node in the resource; log lines written inside a span carry
 * its ids; the work histograms fill from the same hooks. A bad URL is refused before anything loads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import {
  SpanName,
  bindWorkMetrics,
  checkOtlpUrl,
  createMetrics,
  createPinoLogger,
  registerOtlpTracing,
  tracingEnabled,
  withSpan,
  type OtlpTracing,
} from '../../src/telemetry/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { sqliteAdapter } from '../support/stores.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

describe('OTLP export', () => {
  let tracing: OtlpTracing | undefined;
  let receiver: OtlpReceiver | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await tracing?.shutdown();
    await receiver?.close();
    await store?.close();
  });

  it('refuses a URL that is not http(s), with invalid_input', () => {
    expect(() => checkOtlpUrl('ftp://127.0.0.1/v1/traces')).toThrow(/--otlp needs an http/);
    expect(() => checkOtlpUrl('nonsense')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(checkOtlpUrl('http://127.0.0.1:4318/v1/traces')).toBe('http://127.0.0.1:4318/v1/traces');
  });

  it('sends a workflow’s spans to the receiver; logs in a span carry its ids; histograms fill', async () => {
    receiver = await startOtlpReceiver();
    expect(tracingEnabled()).toBe(false);
    tracing = await registerOtlpTracing({ url: receiver.url, nodeName: 'n-otlp' });
    expect(tracingEnabled()).toBe(true);
    const metrics = createMetrics();
    const unbind = bindWorkMetrics(metrics);
    const lines: Array<Record<string, unknown>> = [];
    const log = createPinoLogger({
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    store = await openStore(sqliteAdapter.freshUrl());
    const engine = createWorkflowEngine({ store, clock: new VirtualClock(), nodeId: 'n-otlp' });
    const flow = defineWorkflow('otlp.flow', async (ctx) => {
      const n = await ctx.step('one', () => {
        log.info('inside the step');
        return Promise.resolve(1);
      });
      return n + 1;
    });
    engine.register(flow);
    let ids: { traceId: string; spanId: string } | undefined;
    await withSpan('client', {}, async (span) => {
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      const handle = await engine.start(flow, {});
      expect(await handle.result()).toBe(2);
    });
    log.info('outside any span');
    await engine.stop();
    await tracing.flush();

    const names = receiver.spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['client', SpanName.workflowStart, SpanName.step]));
    for (const s of receiver.spans) {
      expect(s.traceId).toBe(ids!.traceId);
      expect(s.resource).toMatchObject({ 'service.name': 'garrison', 'garrison.node': 'n-otlp' });
    }
    const step = receiver.spans.find((s) => s.name === SpanName.step)!;
    expect(lines[0]).toMatchObject({ msg: 'inside the step', trace_id: ids!.traceId, span_id: step.spanId });
    expect(lines[1]?.msg).toBe('outside any span');
    expect(lines[1]).not.toHaveProperty('trace_id');

    const text = await metrics.render();
    expect(text).toMatch(/garrison_step_duration_seconds_count\{workflow="otlp.flow",outcome="ok"\} 1/);
    unbind();
  });
});
