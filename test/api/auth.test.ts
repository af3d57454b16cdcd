/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/** Bearer tokens: every route × {no token, wrong token, read token on an admin route}; the failed-attempt limit. */
import { afterEach, describe, expect, it } from 'vitest';
import { createApiToken, hashApiToken } from '../../src/api/index.js';
import { adapters } from '../support/stores.js';
import { call, samplePath, startHarness, type Harness } from './support.js';

const admin = createApiToken();
const reader = createApiToken();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The status of an event stream, which is then closed. */
async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  controller.abort();
  return { status: res.status, json: undefined };
}

describe.each(adapters)('HTTP API auth on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const withTokens = (burst = 10_000) =>
    startHarness(adapter, {
      auth: {
        tokens: [
          { token: admin.token, scope: 'admin', name: 'ops' },
          { sha256: reader.sha256, scope: 'read', name: 'viewer' },
        ],
        failedAttemptBurst: burst,
        failedAttemptsPerMinute: 6,
      },
    });

  it('every route but /healthz and the page: 401 without a token or with a wrong one, 403 for a read token on an admin route', async () => {
    h = await withTokens();
    const checked: string[] = [];
    for (const r of h.api.routes) {
      const path = samplePath(r.path);
      const none = await call(h.url, r.method, path);
      if (r.access === 'public') {
        expect(none.status, `${r.method} ${r.path}`).toBe(200);
        continue;
      }
      expect([none.status, none.json?.error?.code], `${r.method} ${r.path}`).toEqual([401, 'unauthorized']);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await call(h.url, r.method, path, undefined, bearer(createApiToken().token));
      expect([wrong.status, wrong.json?.error?.code], `${r.method} ${r.path}`).toEqual([401, 'unauthorized']);
      const readOnly =
        r.produces === 'text/event-stream'
          ? await openStream(`${h.url}${path}`, bearer(reader.token))
          : await call(h.url, r.method, path, undefined, bearer(reader.token));
      if (r.access === 'admin')
        expect([readOnly.status, readOnly.json?.error?.code], `${r.method} ${r.path}`).toEqual([
          403,
          'forbidden',
        ]);
      else expect(readOnly.status, `${r.method} ${r.path}`).not.toBe(401);
      checked.push(`${r.method} ${r.path}`);
    }
    expect(checked).toEqual(
      expect.arrayContaining(['POST /v1/tasks', 'GET /v1/events', 'GET /metrics', 'GET /openapi.json']),
    );
    expect(checked).not.toContain('GET /healthz');
    // Unknown routes tell an unauthenticated caller nothing.
    expect((await call(h.url, 'GET', '/v1/secret')).status).toBe(401);
  });

  it('an admin token may change things, a read token may read and query; nothing was written by refused calls', async () => {
    h = await withTokens();
    expect((await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1 })).status).toBe(401);
    expect(
      (await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1 }, bearer(reader.token))).status,
    ).toBe(403);
    expect(await h.queues.listTasks()).toEqual([]);
    const made = await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1 }, bearer(admin.token));
    expect(made.status).toBe(201);
    const listed = await call(h.url, 'GET', '/v1/tasks', undefined, bearer(reader.token));
    expect(listed.json.tasks).toHaveLength(1);
    const query = await call(h.url, 'POST', '/v1/agents/query', { criteria: [] }, bearer(reader.token));
    expect([query.status, query.json.agents]).toEqual([200, []]);
    // The scheme is case-insensitive; anything else in the header is a wrong token.
    expect(
      (await call(h.url, 'GET', '/v1/tasks', undefined, { authorization: `bearer ${admin.token}` })).status,
    ).toBe(200);
    expect(
      (await call(h.url, 'GET', '/v1/tasks', undefined, { authorization: `Basic ${admin.token}` })).status,
    ).toBe(401);
  });

  it('wrong tokens from one address are limited with 429 and Retry-After; a right token always passes', async () => {
    h = await withTokens(3);
    for (let i = 0; i < 3; i++)
      expect((await call(h.url, 'GET', '/v1/agents', undefined, bearer(`wrong-${i}`))).status).toBe(401);
    const limited = await call(h.url, 'GET', '/v1/agents', undefined, bearer('wrong-3'));
    expect([limited.status, limited.json.error.code]).toEqual([429, 'too_many_failed_attempts']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The operator's token is not locked out by the guesses (of someone on the same address).
    for (let i = 0; i < 20; i++) {
      expect((await call(h.url, 'GET', '/v1/agents', undefined, bearer(admin.token))).status).toBe(200);
      expect((await call(h.url, 'GET', '/v1/agents', undefined, bearer(`wrong-${i}`))).status).toBe(429);
    }
    const admitted = await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1 }, bearer(admin.token));
    expect(admitted.status).toBe(201);
    // A missing token is not a guess: it is 401 and not counted. /healthz stays open.
    expect((await call(h.url, 'GET', '/v1/agents')).status).toBe(401);
    expect((await call(h.url, 'GET', '/healthz')).status).toBe(200);
    await h.clock.advance(10_000); // 6 a minute: one wrong attempt back every 10 s
    expect((await call(h.url, 'GET', '/v1/agents', undefined, bearer('wrong-again'))).status).toBe(401);
    expect((await call(h.url, 'GET', '/v1/agents', undefined, bearer('wrong-again'))).status).toBe(429);
  });

  it('tokens are kept as digests: a digest given in the options accepts its token; the shorthand token is admin', async () => {
    expect(hashApiToken(reader.token)).toBe(reader.sha256);
    expect(admin.token.length).toBeGreaterThanOrEqual(43); // 256 random bits, base64url
    h = await startHarness(adapter, { token: admin.token });
    expect((await call(h.url, 'GET', '/v1/agents')).status).toBe(401);
    expect(
      (await call(h.url, 'POST', '/v1/tasks', { queue: 'q', payload: 1 }, bearer(admin.token))).status,
    ).toBe(201);
    await expect(
      startHarness(adapter, { auth: { tokens: [{ sha256: 'not-a-digest', scope: 'admin' }] } }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(
      startHarness(adapter, { auth: { tokens: [{ token: admin.token, scope: 'root' as 'admin' }] } }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('with tokens the server may listen beyond loopback', async () => {
    h = await startHarness(adapter, { host: '0.0.0.0', token: admin.token });
    expect(h.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    const { port } = new URL(h.url);
    expect((await call(`http://127.0.0.1:${port}`, 'GET', '/healthz')).status).toBe(200);
  });
});
