/**
 * The server's lifecycle and stream bounds over real HTTP: `close` lets an admitted request finish and
 * waits at most `closeTimeoutMs` (on the context's clock); HEAD answers headers only and opens no event
 * stream; an event stream whose reader does not keep up is cut off at `eventBufferBytes`; replies carry
 * their safety headers, and an unread body is drained or its connection closed.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters } from '../support/stores.js';
import { call, rawCall, startHarness, type Harness } from './support.js';

/** A POST of a task whose body is sent in two parts: the second when `finish` is called. */
function slowPost(url: string) {
  const { port } = new URL(url);
  const body = JSON.stringify({ queue: 'q', payload: 'slow' });
  let finish: () => void = () => undefined;
  const status = new Promise<number>((resolve, reject) => {
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
  return { status, finish: () => finish() };
}

const connections = (h: Harness) =>
  new Promise<number>((resolve, reject) =>
    h.api.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  );

describe.each(adapters)('HTTP API server on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('close() stops accepting, lets an admitted request finish and commit, then resolves', async () => {
    h = await startHarness(adapter);
    const admitted = new Promise<void>((resolve) => h!.api.server.once('request', () => resolve()));
    const post = slowPost(h.url);
    await admitted;
    let closed = false;
    const closing = h.api.close().then(() => (closed = true));
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
    expect(closed).toBe(false);
    post.finish();
    expect(await post.status).toBe(201);
    await closing;
    expect((await h.queues.listTasks()).map((t) => t.payload)).toEqual(['slow']);
  });

  it('close() waits at most closeTimeoutMs on the context clock, then cuts the connection of a request that never ends', async () => {
    h = await startHarness(adapter, { closeTimeoutMs: 5000, bodyTimeoutMs: 60_000 }); // no body deadline first
    const admitted = new Promise<void>((resolve) => h!.api.server.once('request', () => resolve()));
    const post = slowPost(h.url);
    const outcome = post.status.then(
      (status) => `status ${status}`,
      (error: NodeJS.ErrnoException) => `error ${error.code}`,
    );
    await admitted;
    let closed = false;
    const closing = h.api.close().then(() => (closed = true));
    await h.clock.advance(4999);
    expect(closed).toBe(false);
    await h.clock.advance(1);
    await closing;
    expect(await outcome).toBe('error ECONNRESET');
    expect((await h.queues.listTasks()).length).toBe(0);
  });

  it('replies carry nosniff and no-store; a body left unread within the limit keeps the connection, past it closes it', async () => {
    h = await startHarness(adapter, { bodyLimitBytes: 1024 });
    for (const reply of [await call(h.url, 'GET', '/v1/tasks'), await call(h.url, 'GET', '/v1/nothing')]) {
      expect(reply.headers.get('content-type')).toBe('application/json');
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      expect(reply.headers.get('cache-control')).toBe('no-store');
    }
    const json = { 'content-type': 'application/json' };
    const small = await rawCall(h.url, 'POST', '/v1/tasks/1/cancel', '{"force":true}', json);
    expect([small.status, small.headers.get('connection')]).toEqual([422, 'keep-alive']);
    const large = await rawCall(
      h.url,
      'POST',
      '/v1/tasks',
      JSON.stringify({ queue: 'q', payload: 'x'.repeat(2000) }),
      json,
    );
    expect([large.status, large.headers.get('connection')]).toEqual([413, 'close']);
  });

  it('HEAD answers the headers of a GET route without a body; on /v1/events it opens no stream', async () => {
    h = await startHarness(adapter, { maxEventStreams: 1 });
    const head = await fetch(`${h.url}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    const events = await fetch(`${h.url}/v1/events`, { method: 'HEAD' });
    expect([events.status, events.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
    const controller = new AbortController();
    const stream = await fetch(`${h.url}/v1/events`, { signal: controller.signal });
    expect(stream.status).toBe(200); // the one stream allowed was still free
    controller.abort();
  });

  it('an event stream whose reader does not keep up is cut off once eventBufferBytes wait for it', async () => {
    h = await startHarness(adapter, { eventBufferBytes: 64 * 1024 });
    const timersBefore = h.clock.pendingTimers;
    const { port } = new URL(h.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = 0;
    const connected = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (chunk.toString().includes(': connected')) resolve();
      }),
    );
    const gone = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined); // the cut may reach the client as a reset
    socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await connected;
    socket.pause(); // reads nothing more: what the server writes piles up
    const payload = 'x'.repeat(16 * 1024);
    let sent = 0;
    while ((await connections(h)) > 0 && sent < 64 * 1024 * 1024) {
      h.events.emit('breaker.rejected', { service: payload, reason: 'open' } as never);
      sent += payload.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await connections(h)).toBe(0);
    expect(h.clock.pendingTimers).toBe(timersBefore); // the heartbeat went with the stream
    socket.resume();
    await gone;
    expect(received).toBeLessThan(sent);
  });
});
