/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * Bad input over real HTTP: every path, query and body is validated, errors have one shape and a fitting
 * status, nothing is written, bodies are bounded before they are read, slow clients are timed out and
 * admission is bounded.
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../src/api/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness, type Reply } from './support.js';

const expectError = (reply: Reply, status: number, code: string) => {
  expect([reply.status, reply.json?.error?.code]).toEqual([status, code]);
  expect(typeof reply.json.error.message).toBe('string');
};

/** Sends a request by hand and answers the status; `body` is written but the request is not ended. */
function partialRequest(url: string, path: string, headers: Record<string, string | number>, body: string) {
  const { port } = new URL(url);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.write(body);
  });
}

describe.each(adapters)('HTTP API validation on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('422 names every bad field of a body, a query and a path; nothing is written', async () => {
    h = await startHarness(adapter);
    const bad = await call(h.url, 'POST', '/v1/tasks', { queue: '', payload: 1, priority: 1.5 });
    expectError(bad, 422, 'invalid_input');
    expect(bad.json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'priority',
      'queue',
    ]);
    expectError(
      await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1, surprise: true }),
      422,
      'invalid_input',
    );
    expectError(await call(h.url, 'POST', '/v1/tasks', { queue: 'q' }), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/workflows?limit=0'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/workflows?status=running,asleep'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/agents?health=fine'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/agents?unknown=1'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/tasks/abc'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/tasks/0'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', '/v1/tasks?state=lost'), 422, 'invalid_input');
    expectError(await call(h.url, 'GET', `/v1/agents/${'x'.repeat(201)}`), 422, 'invalid_input');
    expectError(await call(h.url, 'POST', '/v1/dead-letters/retry', {}), 422, 'invalid_input');
    expectError(await call(h.url, 'POST', '/v1/dead-letters/purge', { ids: [] }), 422, 'invalid_input');
    expectError(
      await call(h.url, 'POST', '/v1/workflows', { name: 'waiter', workflowId: '' }),
      422,
      'invalid_input',
    );
    expectError(await call(h.url, 'POST', '/v1/workflows/w/signal', { data: 1 }), 422, 'invalid_input');
    expectError(
      await call(h.url, 'POST', '/v1/agents/query', { criteria: [{ path: 'x', op: 'like', value: 1 }] }),
      422,
      'invalid_input',
    );
    expectError(await call(h.url, 'GET', '/v1/events?pattern=a b'), 422, 'invalid_input');
    expectError(await call(h.url, 'POST', '/v1/workflows/w/cancel', { force: true }), 422, 'invalid_input');
    expect((await call(h.url, 'GET', '/v1/tasks')).json.tasks).toEqual([]);
    expect((await call(h.url, 'GET', '/v1/workflows')).json.workflows).toEqual([]);
  });

  it('values the layers refuse: unknown workflow or bad input 422, bad criteria 422, absent things 404, wrong state 409', async () => {
    h = await startHarness(adapter);
    expectError(
      await call(h.url, 'POST', '/v1/workflows', { name: 'no-such', input: 1 }),
      422,
      'workflow_unknown',
    );
    expectError(
      await call(h.url, 'POST', '/v1/workflows', { name: 'typed', input: 'two' }),
      422,
      'invalid_input',
    );
    expectError(
      await call(h.url, 'POST', '/v1/agents/query', { criteria: [{ path: 'nowhere', op: 'eq', value: 1 }] }),
      422,
      'invalid_criteria',
    );
    expectError(await call(h.url, 'GET', '/v1/agents/ghost'), 404, 'agent_not_found');
    expectError(await call(h.url, 'GET', '/v1/workflows/ghost'), 404, 'workflow_not_found');
    for (const action of ['cancel', 'pause', 'resume'])
      expectError(await call(h.url, 'POST', `/v1/workflows/ghost/${action}`), 404, 'workflow_not_found');
    expectError(
      await call(h.url, 'POST', '/v1/workflows/ghost/signal', { name: 'go' }),
      404,
      'workflow_not_found',
    );
    expectError(await call(h.url, 'GET', '/v1/tasks/999'), 404, 'task_not_found');
    expectError(await call(h.url, 'POST', '/v1/tasks/999/cancel'), 404, 'task_not_found');
    expectError(await call(h.url, 'POST', '/v1/breakers/ghost/reset'), 404, 'breaker_not_found');
    await call(h.url, 'POST', '/v1/workflows', { name: 'typed', input: 1, workflowId: 'done' });
    expect(await h.workflows.result('done')).toBe(2);
    expectError(
      await call(h.url, 'POST', '/v1/workflows/done/signal', { name: 'go' }),
      409,
      'workflow_finished',
    );
    expectError(await call(h.url, 'POST', '/v1/workflows/done/resume'), 409, 'workflow_finished');
    expectError(
      await call(h.url, 'POST', '/v1/workflows', { name: 'waiter', input: 1, workflowId: 'done' }),
      409,
      'workflow_conflict',
    );
    expect((await call(h.url, 'GET', '/v1/workflows')).json.workflows).toHaveLength(1);
  });

  it('unknown routes are 404, known paths with another method 405 with Allow', async () => {
    h = await startHarness(adapter);
    expectError(await call(h.url, 'GET', '/v1/nothing'), 404, 'not_found');
    expectError(await call(h.url, 'GET', '/v2/agents'), 404, 'not_found');
    expectError(await call(h.url, 'GET', '/v1/agents/%E0%A4%A'), 404, 'not_found');
    const wrong = await call(h.url, 'DELETE', '/v1/agents');
    expectError(wrong, 405, 'method_not_allowed');
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('400 for a body that is not JSON, 415 for one that is not application/json, 422 past the depth limit', async () => {
    h = await startHarness(adapter);
    expectError(await call(h.url, 'POST', '/v1/tasks', '{nope'), 400, 'bad_json');
    expectError(
      await call(h.url, 'POST', '/v1/tasks', 'hello', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    expectError(
      await call(h.url, 'POST', '/v1/tasks', 'queue=q', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      415,
      'unsupported_media_type',
    );
    const deep = '['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1);
    expectError(await call(h.url, 'POST', '/v1/tasks', `{"queue":"q","payload":${deep}}`), 422, 'too_deep');
    const deepest = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(
      (await call(h.url, 'POST', '/v1/tasks', `{"queue":"q","payload":${deepest}}`)).status,
    ).toBeLessThan(500);
    const proto = await call(
      h.url,
      'POST',
      '/v1/tasks',
      '{"queue":"q","payload":1,"__proto__":{"admin":true}}',
    );
    expectError(proto, 422, 'invalid_input');
    const nested = await call(
      h.url,
      'POST',
      '/v1/tasks',
      '{"queue":"q","payload":{"__proto__":{"polluted":1}}}',
    );
    expect(nested.status).toBe(201);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await h.queues.getTask(nested.json.task.id as number))?.payload).toEqual({
      ['__proto__']: { polluted: 1 },
    });
    expect((await call(h.url, 'GET', '/v1/tasks')).json.tasks).toHaveLength(1);
  });

  it('a body past the limit is refused with 413: from its Content-Length before it is read, or once the stream passes it', async () => {
    h = await startHarness(adapter, { bodyLimitBytes: 1024 });
    // Only the start of the promised 10 MB is sent; the answer comes without the rest.
    const declared = await partialRequest(
      h.url,
      '/v1/tasks',
      { 'content-type': 'application/json', 'content-length': 10_000_000 },
      '{"queue":"q","payload":"',
    );
    expect([declared.status, JSON.parse(declared.text).error.code]).toEqual([413, 'body_too_large']);
    // Chunked, no length given: refused as the stream passes the limit, still without its end.
    const streamed = await partialRequest(
      h.url,
      '/v1/tasks',
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      '{"queue":"q","payload":"' + 'x'.repeat(4096),
    );
    expect(streamed.status).toBe(413);
    expectError(
      await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 'x'.repeat(2000) }),
      413,
      'body_too_large',
    );
    expect((await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 'x'.repeat(900) })).status).toBe(
      201,
    );
  });

  it('a client that does not finish its headers in time gets 408 and is disconnected', async () => {
    h = await startHarness(adapter, {
      headersTimeoutMs: 200,
      requestTimeoutMs: 300,
      timeoutCheckIntervalMs: 20,
    });
    const { port } = new URL(h.url);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('GET /v1/agents HTTP/1.1\r\nHost: x\r\n'),
      );
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a client that does not finish its body in time gets 408', async () => {
    h = await startHarness(adapter, {
      headersTimeoutMs: 200,
      requestTimeoutMs: 300,
      timeoutCheckIntervalMs: 20,
    });
    const reply = await partialRequest(
      h.url,
      '/v1/tasks',
      { 'content-type': 'application/json', 'content-length': 100 },
      '{"queue"',
    );
    expect(reply.status).toBe(408);
    expect((await call(h.url, 'GET', '/v1/tasks')).json.tasks).toEqual([]);
  });

  it('past maxConcurrentRequests a request is refused with 503 and Retry-After; the admitted one completes', async () => {
    h = await startHarness(adapter, { maxConcurrentRequests: 1 });
    const { port } = new URL(h.url);
    const body = JSON.stringify({ queue: 'q', payload: 'admitted' });
    let finish: () => void = () => undefined;
    // Admitted: its body arrives in two parts, so it is in flight while the second request comes.
    const admitted = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/tasks',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      finish = () => req.end(body.slice(10));
    });
    // The first request is admitted once the server has its headers: wait for that on the server.
    await new Promise<void>((resolve) => h!.api.server.once('request', () => resolve()));
    const refused = await call(h.url, 'GET', '/v1/agents');
    expectError(refused, 503, 'overloaded');
    expect(refused.headers.get('retry-after')).toBe('1');
    finish();
    expect(await admitted).toBe(201);
    expect(
      (await call(h.url, 'GET', '/v1/tasks')).json.tasks.map((t: { payload: string }) => t.payload),
    ).toEqual(['admitted']);
  });

  it('bad server options are refused before listening; a non-loopback address needs a token', async () => {
    await expect(startHarness(adapter, { bodyLimitBytes: 0 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(startHarness(adapter, { port: 70_000 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(startHarness(adapter, { host: '0.0.0.0' })).rejects.toThrow(/needs auth tokens/);
    await expect(startHarness(adapter, { token: 'short' })).rejects.toThrow(/at least 22 characters/);
  });
});
