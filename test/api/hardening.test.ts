/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * Refusals that must not give anything away or wait behind anyone: a 500 says only `internal_error` and
 * a request id (the detail is logged under it); bodies trickled a byte at a time are cut at their
 * deadline while the probes still answer; what node:http refuses on its own is JSON too; a queue named
 * `__proto__` is counted like any other.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogFields } from '../../src/telemetry/index.js';
import { MAX_PENDING_SIGNALS } from '../../src/work/workflow/run-control.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

/** Opens a raw connection and sends `head`; `reply` resolves with all it read once the server closes. */
function rawSocket(port: number, head: string): { socket: Socket; reply: Promise<string> } {
  const socket = connect(port, '127.0.0.1', () => socket.write(head));
  const reply = new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('close', () => resolve(got));
    socket.on('error', () => undefined); // a reset after the answer changes nothing here
  });
  return { socket, reply };
}

/** The status and the JSON body of a raw HTTP answer. */
function parse(raw: string): { status: number; body: { error?: { code?: string } } | undefined } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let body: { error?: { code?: string } } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  return { status, body };
}

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !until(); i++) await new Promise((resolve) => setImmediate(resolve));
}

describe.each(adapters)('HTTP API hardening on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a 500 answers internal_error and a request id only; the detail is logged under that id', async () => {
    const logged: Array<{ message: string; fields: LogFields | undefined }> = [];
    h = await startHarness(adapter, {
      logger: { error: (message, fields) => logged.push({ message, fields }) },
    });
    // A real store fault: the table the route reads is gone.
    await h.store.write((tx) => tx.execute('ALTER TABLE garrison_tasks RENAME TO garrison_tasks_gone'));
    const reply = await call(h.url, 'GET', '/v1/tasks');
    expect(reply.status).toBe(500);
    const requestId = reply.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(reply.json).toEqual({ error: { code: 'internal_error', message: 'internal error', requestId } });
    expect(reply.text).not.toMatch(/garrison_tasks|sqlite|relation|\/tmp|store_failed/i);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.fields).toMatchObject({ requestId, method: 'GET', path: '/v1/tasks' });
    expect(String((logged[0]?.fields?.err as Error).message)).toMatch(/garrison_tasks/);
    await h.store.write((tx) => tx.execute('ALTER TABLE garrison_tasks_gone RENAME TO garrison_tasks'));
  });

  it("a store that does not answer is a 503 with a generic reason and a request id; the store's message is logged under it", async () => {
    const logged: Array<{ message: string; fields: LogFields | undefined }> = [];
    h = await startHarness(adapter, {
      logger: { error: (message, fields) => logged.push({ message, fields }) },
    });
    await h.store.close();
    const ready = await call(h.url, 'GET', '/readyz');
    const readyId = ready.headers.get('x-request-id');
    expect([ready.status, ready.headers.get('retry-after')]).toEqual([503, '1']);
    expect(readyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ready.json).toEqual({
      error: {
        code: 'not_ready',
        message: 'the store does not answer',
        details: { reason: 'store_unavailable' },
        requestId: readyId,
      },
    });
    const tasks = await call(h.url, 'GET', '/v1/tasks');
    const tasksId = tasks.headers.get('x-request-id');
    expect([tasks.status, tasks.headers.get('retry-after')]).toEqual([503, '1']);
    expect(tasks.json).toEqual({
      error: {
        code: expect.stringMatching(/^store_(closed|unavailable|busy)$/) as string,
        message: 'temporarily unavailable; retry later',
        requestId: tasksId,
      },
    });
    expect(['store_closed', 'store_unavailable', 'store_busy']).toContain(tasks.json.error.code);
    expect(ready.text + tasks.text).not.toMatch(/\/tmp|postgres:|is closed/);
    // Each detail is in the log under its request id, the store's own message with it.
    expect(logged.map((l) => l.fields?.requestId)).toEqual([readyId, tasksId]);
    for (const l of logged) expect(String((l.fields?.err as Error).message).length).toBeGreaterThan(0);
    expect(logged[0]?.fields).toMatchObject({ method: 'GET', path: '/readyz' });
    expect((logged[0]?.fields?.err as Error).message).not.toBe('the store does not answer');
  });

  it('64 bodies sent a byte at a time hold every slot but /healthz and /readyz still answer; each gets 408 at its deadline', async () => {
    h = await startHarness(adapter, { bodyTimeoutMs: 5000 });
    const { port } = new URL(h.url);
    const timersBefore = h.clock.pendingTimers;
    const slow = Array.from({ length: 64 }, (_, i) =>
      rawSocket(
        Number(port),
        `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: 100\r\n\r\n{"queue":"q${i}"`,
      ),
    );
    // Each is admitted and waiting for the rest of its body, under a deadline on the context's clock.
    await settle(() => h!.clock.pendingTimers >= timersBefore + 64);
    expect(h.clock.pendingTimers).toBeGreaterThanOrEqual(timersBefore + 64);
    const refused = await call(h.url, 'GET', '/v1/agents');
    expect([refused.status, refused.json?.error?.code]).toEqual([503, 'overloaded']);
    expect((await call(h.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(h.url, 'GET', '/readyz')).status).toBe(200);
    for (const s of slow.slice(0, 8)) s.socket.write(','); // one more byte: still not the whole body
    await h.clock.advance(5000);
    const replies = await Promise.all(slow.map((s) => s.reply));
    for (const raw of replies) {
      const { status, body } = parse(raw);
      expect([status, body?.error?.code]).toEqual([408, 'body_timeout']);
    }
    expect((await call(h.url, 'GET', '/v1/agents')).status).toBe(200);
    expect((await call(h.url, 'GET', '/v1/tasks')).json.tasks).toEqual([]);
  });

  it("node:http's own refusals answer JSON: 400 for a request that is not HTTP, 431 for headers too large, 408 for slow headers", async () => {
    h = await startHarness(adapter, {
      headersTimeoutMs: 200,
      requestTimeoutMs: 300,
      timeoutCheckIntervalMs: 20,
    });
    const port = Number(new URL(h.url).port);
    const cases: Array<[string, number, string]> = [
      ['NOT HTTP AT ALL\r\n\r\n', 400, 'bad_request'],
      [
        'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
        400,
        'bad_request',
      ],
      [
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        'headers_too_large',
      ],
      ['GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\n', 408, 'request_timeout'],
    ];
    for (const [head, status, code] of cases) {
      const raw = await rawSocket(port, head).reply;
      expect(parse(raw), head.slice(0, 40)).toEqual({
        status,
        body: { error: { code, message: expect.any(String) as unknown } },
      });
      expect(raw).toMatch(/content-type: application\/json/i);
    }
  });

  it('a queue named __proto__ is counted in the metrics summary like any other', async () => {
    h = await startHarness(adapter);
    await h.queues.enqueue('__proto__', 1);
    await h.queues.enqueue('__proto__', 2);
    await h.queues.enqueue('constructor', 3);
    const summary = await call(h.url, 'GET', '/v1/metrics/summary');
    expect(summary.status).toBe(200);
    expect(Object.keys(summary.json.byQueue as object).sort()).toEqual(['__proto__', 'constructor']);
    expect(summary.json.byQueue['__proto__']).toMatchObject({ queued: 2 });
    expect(summary.json.byQueue.constructor).toMatchObject({ queued: 1 });
    expect(summary.json.tasks).toMatchObject({ queued: 3 });
  });

  it('a run holds at most MAX_PENDING_SIGNALS signals it has not consumed: more are 429 signal_limit, one it waits for still passes', async () => {
    h = await startHarness(adapter);
    await h.workflows.start('waiter', 1, { workflowId: 's' });
    for (let i = 0; i < 1000 && (await h.workflows.get('s'))?.status !== 'waiting'; i++)
      await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < MAX_PENDING_SIGNALS; i++) await h.workflows.signal('s', 'other', { i });
    const refused = await call(h.url, 'POST', '/v1/workflows/s/signal', { name: 'other', data: 'x' });
    expect([refused.status, refused.json.error.code]).toEqual([429, 'signal_limit']);
    expect(refused.headers.get('retry-after')).toBe('1');
    await expect(h.workflows.signal('s', 'more')).rejects.toMatchObject({ code: 'signal_limit' });
    // The signal the run waits for is taken all the same, and the run goes on.
    expect(
      (await call(h.url, 'POST', '/v1/workflows/s/signal', { name: 'go', data: { add: 41 } })).status,
    ).toBe(202);
    expect(await h.workflows.result('s')).toBe(42);
    const finished = await call(h.url, 'POST', '/v1/workflows/s/signal', { name: 'other' });
    expect([finished.status, finished.json.error.code]).toEqual([409, 'workflow_finished']);
    const stored = await h.store.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM garrison_workflow_signals WHERE run_id = 's'",
    );
    expect(Number(stored[0]?.n)).toBe(MAX_PENDING_SIGNALS + 1);
  });
});
