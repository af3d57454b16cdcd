/**
 * One trace per workflow across nodes and a crash, on PostgreSQL. Node A (this process, spans kept by an
 * in-memory exporter) runs a workflow whose two steps are dispatched to agents on node B, a child process
 * exporting its spans over OTLP/HTTP to a receiver this test starts on 127.0.0.1. B is killed with
 * SIGKILL in the middle of the second step and a new agent node (B2, same host) takes over. Every span of
 * the run — A's and the children's — is in the caller's trace with its parent present; the interrupted
 * attempt was never ended, so it is not exported (left open, superseded); each step's successful action
 * is there once. Real processes, real time, no timing assertions.
 */
import { join } from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { SpanName, getTracer } from '../../src/telemetry/index.js';
import { repositoryRoot, scratchFolder, spawnScript, type Child } from '../support/child.js';
import { postgresAdapter } from '../support/stores.js';
import { readLedger, traceFlow } from './fixtures/trace-work.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const FIXTURE = join(repositoryRoot, 'test', 'telemetry', 'fixtures', 'trace-agent-node.ts');
const LEASES = { tasks: { leaseMs: 600_000 }, workflows: { leaseMs: 600_000 } };

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A span of this process in the receiver's shape (its node is A). */
function received(s: ReadableSpan): ReceivedSpan {
  return {
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    name: s.name,
    status: s.status.code,
    attributes: s.attributes as ReceivedSpan['attributes'],
    resource: { 'garrison.node': 'A' },
  };
}

function agentNode(url: string, otlp: string, name: string, agent: string, ledger: string, mode: string) {
  return spawnScript(FIXTURE, [url, otlp, name, agent, ledger, mode], { stdin: true });
}

describe('one trace for a workflow across nodes and a kill -9, on postgres', () => {
  let provider: NodeTracerProvider | undefined;
  let receiver: OtlpReceiver | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await provider?.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    await receiver?.close();
  });

  it(
    'the spans of A and of the agent nodes form the caller’s trace, parents present; the killed attempt is superseded',
    { timeout: 180_000 },
    async () => {
      const exporter = new InMemorySpanExporter();
      provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.register();
      receiver = await startOtlpReceiver();
      const rx = receiver;
      const url = postgresAdapter.freshUrl();
      const ledger = join(scratchFolder('garrison-trace-crash-'), 'ledger.jsonl');
      node = await startNode({ config: { store: url, nodeName: 'A', ...LEASES }, workflows: [traceFlow()] });
      const a = node;

      const b: Child = agentNode(url, rx.url, 'B', 'agent-1', ledger, 'hold');
      await b.line('ready');
      const caller = getTracer().startSpan('caller');
      await context.with(trace.setSpan(context.active(), caller), () =>
        a.workflows.start('trace.flow', {}, { workflowId: 'traced-run' }),
      );
      caller.end();
      const traceId = caller.spanContext().traceId;
      await until(() => readLedger(ledger).some((l) => l.key === 'hold'), 'the held step to start on B');
      // B's first step ended before: its spans were sent as they ended.
      await until(
        () => rx.spans.some((s) => s.name === SpanName.action && s.attributes['garrison.step_index'] === 0),
        'B to export the first step',
      );
      const killed = await b.kill();
      expect(killed.signal).toBe('SIGKILL');

      const b2 = agentNode(url, rx.url, 'B2', 'agent-2', ledger, 'run');
      await b2.line('ready');
      expect(await a.workflows.result('traced-run', { timeoutMs: 120_000 })).toEqual([
        { key: 'first', by: 'agent-1' },
        { key: 'hold', by: 'agent-2' },
      ]);
      b2.process.stdin?.end(); // a graceful stop: B2 sends every span before it exits
      expect((await b2.exited).code).toBe(0);
      await until(
        () => exporter.getFinishedSpans().some((s) => s.name === SpanName.workflowRun),
        'the run span to end on A',
      );

      const all = [...exporter.getFinishedSpans().map(received), ...rx.spans];
      const ofRun = all.filter((s) => s.attributes['garrison.run_id'] === 'traced-run');
      // Everything about the run is in the caller's trace, and every parent in it was exported.
      expect(ofRun.length).toBeGreaterThan(0);
      for (const s of ofRun) expect(s.traceId).toBe(traceId);
      const inTrace = all.filter((s) => s.traceId === traceId);
      const ids = new Set(inTrace.map((s) => s.spanId));
      for (const s of inTrace)
        if (s.name !== 'caller') expect(ids.has(s.parentSpanId ?? ''), `parent of ${s.name}`).toBe(true);
      const byId = new Map(inTrace.map((s) => [s.spanId, s]));
      const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId ?? '');

      const [start] = inTrace.filter((s) => s.name === SpanName.workflowStart);
      expect(parentOf(start!)?.name).toBe('caller');
      const runs = inTrace.filter((s) => s.name === SpanName.workflowRun);
      expect(runs.length).toBeGreaterThanOrEqual(1);
      for (const r of runs) expect(r.parentSpanId).toBe(start!.spanId);

      for (const [index, by] of [
        [0, 'B'],
        [1, 'B2'],
      ] as const) {
        const actions = inTrace.filter(
          (s) => s.name === SpanName.action && s.attributes['garrison.step_index'] === index,
        );
        // The successful attempt once; the attempt killed on B never ended, so it was never exported.
        expect(actions).toHaveLength(1);
        const action = actions[0]!;
        expect(action.status).not.toBe(2);
        expect(action.resource['garrison.node']).toBe(by);
        const task = parentOf(action)!;
        expect(task.name).toBe(SpanName.task);
        const dispatch = parentOf(task)!;
        expect(dispatch.name).toBe(SpanName.dispatch);
        expect(dispatch.attributes['garrison.step_index']).toBe(index);
        expect(runs.map((r) => r.spanId)).toContain(dispatch.parentSpanId);
      }
      // The killed node did start the held step: its attempt is the one superseded.
      expect(
        readLedger(ledger)
          .filter((l) => l.key === 'hold')
          .map((l) => l.by),
      ).toEqual(['agent-1', 'agent-2']);
      expect(rx.requests.every((r) => r.path === '/v1/traces')).toBe(true);
      expect(rx.requests[0]?.contentType).toMatch(/application\/json/);
    },
  );
});
