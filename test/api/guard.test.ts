/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * What a web page could make the browser send to a loopback server without a token: cross-site "simple"
 * requests (no preflight) to every route that changes state, and DNS-rebound requests naming the
 * attacker's host. Each is refused before it does anything; the server's own page and non-browser clients
 * still work.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/api/index.js';
import { adapters } from '../support/stores.js';
import { call, rawCall, samplePath, startHarness, type Harness, type Reply } from './support.js';

const expectError = (reply: Reply, status: number, code: string, what: string) => {
  expect([reply.status, reply.json?.error?.code], what).toEqual([status, code]);
  expect(typeof reply.json.error.message, what).toBe('string');
};

describe.each(adapters)('cross-site and rebinding guard on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** A queued task, a run waiting for a signal and a breaker: what a cross-site request could change. */
  async function seed(x: Harness) {
    const task = await x.queues.enqueue('jobs', { n: 1 });
    await x.workflows.start('waiter', 1, { workflowId: '1' });
    x.breakers.get('payments');
    // Settled first: the run goes on to wait for its signal by itself.
    for (let i = 0; i < 1000 && (await x.workflows.get('1'))?.status !== 'waiting'; i++)
      await new Promise((resolve) => setImmediate(resolve));
    expect((await x.workflows.get('1'))?.status).toBe('waiting');
    return task.id;
  }

  async function state(x: Harness) {
    return JSON.stringify([
      await x.queues.listTasks({ limit: 100 }),
      (await x.workflows.list({ limit: 100 })).map((w) => [w.id, w.status]),
      await x.queues.listDead({}),
      x.breakers.list(),
    ]);
  }

  it('every route that changes state refuses a cross-site simple request (text/plain, empty body) with 403 and changes nothing', async () => {
    h = await startHarness(adapter);
    await seed(h);
    const before = await state(h);
    const changing = h.api.routes.filter((r) => r.method !== 'GET');
    expect(changing.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/v1/tasks/:id/cancel',
        '/v1/workflows/:id/cancel',
        '/v1/workflows/:id/pause',
        '/v1/workflows/:id/resume',
        '/v1/breakers/:service/reset',
        '/v1/agents/:id/schedules/:name/run',
        '/v1/agents/:id/schedules/:name/pause',
        '/v1/agents/:id/schedules/:name/resume',
        '/v1/agents/:id/schedules/:name/update',
        '/v1/agents/:id/schedules/:name',
      ]),
    );
    for (const r of changing) {
      const what = `${r.method} ${r.path}`;
      const path = samplePath(r.path);
      const simple = { origin: 'https://evil.example', 'content-type': 'text/plain' };
      expectError(await rawCall(h.url, r.method, path, '', simple), 403, 'cross_site_request', what);
      // Even with a JSON type (which would need a preflight): the Origin or Sec-Fetch-Site gives it away.
      const json = { 'content-type': 'application/json' };
      expectError(
        await rawCall(h.url, r.method, path, '{}', { ...json, origin: 'http://localhost:9999' }),
        403,
        'cross_site_request',
        what,
      );
      expectError(
        await rawCall(h.url, r.method, path, '', { ...json, origin: 'null' }),
        403,
        'cross_site_request',
        what,
      );
      for (const site of ['cross-site', 'same-site'])
        expectError(
          await rawCall(h.url, r.method, path, '', { ...json, 'sec-fetch-site': site }),
          403,
          'cross_site_request',
          what,
        );
      // Without an Origin, a state change still needs Content-Type: application/json, body or not.
      expectError(await rawCall(h.url, r.method, path, '', {}), 415, 'unsupported_media_type', what);
      expectError(
        await rawCall(h.url, r.method, path, '', { 'content-type': 'text/plain' }),
        415,
        'unsupported_media_type',
        what,
      );
    }
    expect(await state(h)).toBe(before);
  });

  it('the same requests from the server’s own origin, or from outside a browser, are served', async () => {
    h = await startHarness(adapter);
    const task = await seed(h);
    const json = { 'content-type': 'application/json' };
    const own = { ...json, origin: h.url, 'sec-fetch-site': 'same-origin' };
    expect((await rawCall(h.url, 'POST', '/v1/breakers/payments/reset', '', own)).status).toBe(200);
    expect((await rawCall(h.url, 'POST', '/v1/workflows/1/pause', '', own)).status).toBe(200);
    expect((await rawCall(h.url, 'POST', '/v1/workflows/1/resume', '', json)).status).toBe(200);
    // `none`: typed by the user (or no browser at all); a JSON type with parameters is JSON.
    const typed = { 'content-type': 'application/json; charset=utf-8', 'sec-fetch-site': 'none' };
    const cancelled = await rawCall(h.url, 'POST', `/v1/tasks/${task}/cancel`, '', typed);
    expect([cancelled.status, cancelled.json.state]).toEqual([200, 'cancelled']);
    expect((await rawCall(h.url, 'POST', '/v1/workflows/1/cancel', '', json)).status).toBe(200);
    expect(await h.workflows.result('1').catch((e: { code: string }) => e.code)).toBe('workflow_cancelled');
    // Reads are not guarded by origin: a page cannot read the answer of a cross-site GET anyway.
    expect((await rawCall(h.url, 'GET', '/v1/tasks', '', { origin: 'https://evil.example' })).status).toBe(
      200,
    );
  });

  it('a Host that is not this server (DNS rebinding) is refused with 421 on every route; loopback names and IP literals pass', async () => {
    h = await startHarness(adapter);
    const { port } = new URL(h.url);
    for (const r of h.api.routes) {
      const what = `${r.method} ${r.path}`;
      const headers: Record<string, string> =
        r.method === 'GET' ? {} : { 'content-type': 'application/json' };
      const reply = await rawCall(h.url, r.method, samplePath(r.path), '', {
        ...headers,
        host: `attacker.example:${port}`,
      });
      expectError(reply, 421, 'host_not_allowed', what);
    }
    expectError(
      await rawCall(h.url, 'GET', '/healthz', '', { host: 'rebound.attacker.example' }),
      421,
      'host_not_allowed',
      'healthz',
    );
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      '127.1.2.3',
      `[::1]:${port}`,
      '192.0.2.7:80',
    ])
      expect((await rawCall(h.url, 'GET', '/v1/breakers', '', { host })).status, host).toBe(200);
  });

  it('names listed in allowedHosts are served; bad allowedHosts are refused at start', async () => {
    h = await startHarness(adapter, { allowedHosts: ['Garrison.Internal'] });
    const { port } = new URL(h.url);
    expect(
      (await rawCall(h.url, 'GET', '/v1/breakers', '', { host: `garrison.internal:${port}` })).status,
    ).toBe(200);
    // Its own origin under that name may change state too.
    const own = { host: `garrison.internal:${port}`, origin: `http://garrison.internal:${port}` };
    const reset = await rawCall(h.url, 'POST', '/v1/breakers/payments/reset', '', {
      ...own,
      'content-type': 'application/json',
    });
    expectError(reset, 404, 'breaker_not_found', 'reset'); // passed the guard; no such breaker
    expectError(
      await rawCall(h.url, 'GET', '/v1/breakers', '', { host: 'other.internal' }),
      421,
      'host_not_allowed',
      'other',
    );
    await expect(startHarness(adapter, { allowedHosts: ['http://x.example/'] })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it('bound to 0.0.0.0: IP literals and loopback names pass, other names only when listed in allowedHosts', async () => {
    const token = createApiToken().token;
    h = await startHarness(adapter, { host: '0.0.0.0', token, allowedHosts: ['garrison.lan'] });
    const { port } = new URL(h.url);
    const url = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${token}` };
    for (const host of ['192.0.2.10', `[2001:db8::1]:${port}`, `localhost:${port}`, `garrison.lan:${port}`])
      expect((await rawCall(url, 'GET', '/v1/breakers', '', { ...auth, host })).status, host).toBe(200);
    expectError(
      await rawCall(url, 'GET', '/v1/breakers', '', { ...auth, host: `box.example:${port}` }),
      421,
      'host_not_allowed',
      'box.example',
    );
  });

  it('the call helper of these tests sends JSON on POST: the guard does not hide behind it', async () => {
    h = await startHarness(adapter);
    const bare = await fetch(`${h.url}/v1/breakers/payments/reset`, { method: 'POST' });
    expect(bare.status).toBe(415);
    expect((await call(h.url, 'POST', '/v1/breakers/ghost/reset')).status).toBe(404);
  });
});
