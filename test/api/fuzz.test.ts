/**
 * Property-based fuzzing of every route with malformed bodies — wrong types, deep nesting, huge strings,
 * `__proto__` keys, invalid JSON, wrong content types — and of every GET route with stray query
 * parameters: never a 5xx, never a crash, and the store is exactly as before.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { call, rawCall, samplePath, startHarness, type Harness } from './support.js';

interface Sent {
  readonly text: string;
  readonly type: string;
}

const json = (value: unknown): Sent => ({ text: JSON.stringify(value), type: 'application/json' });
const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

/** Bodies no route accepts. */
const malformed: fc.Arbitrary<Sent> = fc.oneof(
  // Wrong types and shapes: any JSON value but an object that names the right fields.
  fc.jsonValue({ maxDepth: 4 }).map(json),
  fc
    .record({ queue: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)), payload: fc.jsonValue() })
    .map(json),
  fc.record({ name: fc.oneof(fc.integer(), fc.array(fc.string())), input: fc.jsonValue() }).map(json),
  fc.record({ criteria: fc.oneof(fc.string(), fc.dictionary(fc.string(), fc.integer())) }).map(json),
  fc
    .record({
      ids: fc.array(
        fc.oneof(
          fc.string(),
          fc.double().filter((d) => !Number.isInteger(d)),
          fc.integer({ max: 0 }),
        ),
        { minLength: 1 },
      ),
    })
    .map(json),
  // Deep nesting, in arrays and objects, around and inside otherwise plausible bodies.
  fc.integer({ min: 65, max: 50_000 }).map((n) => ({ text: nested(n, '[', ']'), type: 'application/json' })),
  fc.integer({ min: 65, max: 20_000 }).map((n) => ({
    text: `{"queue":"q","payload":${nested(n, '{"a":', '}').replace(/:}/, ':1}')}}`,
    type: 'application/json',
  })),
  // Huge strings where a short one is wanted.
  fc.integer({ min: 201, max: 200_000 }).map((n) => json({ queue: 'x'.repeat(n), payload: 1 })),
  fc.integer({ min: 201, max: 200_000 }).map((n) => json({ name: 'n'.repeat(n) })),
  fc.integer({ min: 1, max: 200_000 }).map((n) => json('s'.repeat(n))),
  // __proto__, constructor and prototype keys at the top (never accepted: bodies are strict objects).
  fc
    .constantFrom('__proto__', 'constructor', 'prototype')
    .chain((key) =>
      fc.jsonValue({ maxDepth: 2 }).map((v) => `{"${key}":${JSON.stringify(v)},"queue":"q","payload":1}`),
    )
    .map((text) => ({ text, type: 'application/json' })),
  // Not JSON at all.
  fc
    .string({ minLength: 1 })
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => ({ text, type: 'application/json' })),
  // Right JSON, wrong content type.
  fc
    .constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/xml',
      '',
    )
    .map((type) => ({ text: '{"queue":"q","payload":1}', type })),
);

/** Query strings: known keys with wrong values, unknown keys, odd encodings. */
const strayQuery = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom('limit', 'status', 'state', 'health', 'afterId', 'offset', '__proto__'),
      fc.string(),
    ),
    fc.oneof(fc.string(), fc.constantFrom('-1', '0', '1e9', 'NaN', '%', 'running,,', '')),
    { minKeys: 1, maxKeys: 4 },
  )
  .map((d) => new URLSearchParams(d).toString());

describe.each(adapters)('HTTP API fuzz on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** Everything a request could have changed, as JSON. */
  async function snapshot(x: Harness): Promise<string> {
    const registry = createRegistry({ store: x.store, clock: x.clock });
    return JSON.stringify([
      await x.queues.listTasks({ limit: 10_000 }),
      await x.workflows.list({ limit: 10_000 }),
      await registry.list(),
      await x.timers.list(),
      x.breakers.list(),
    ]);
  }

  async function seed(x: Harness): Promise<void> {
    await createRegistry({ store: x.store, clock: x.clock }).register({
      id: 'a-1',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    await x.queues.enqueue('jobs', { n: 1 });
    await (await x.workflows.start('typed', 1, { workflowId: 'w-1' })).result(); // settled: nothing moves
    await x.timers.schedule({ id: 't-1', topic: 'report', delayMs: 60_000 });
    x.breakers.get('payments');
  }

  it('every route: malformed bodies get a 4xx with the error shape, and change nothing', async () => {
    h = await startHarness(adapter);
    await seed(h);
    const before = await snapshot(h);
    for (const r of h.api.routes) {
      await fc.assert(
        fc.asyncProperty(malformed, async (sent) => {
          const reply = await rawCall(h!.url, r.method, samplePath(r.path), sent.text, {
            'content-type': sent.type,
          });
          expect(reply.status, `${r.method} ${r.path} ${sent.text.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
          expect(reply.status, `${r.method} ${r.path} ${sent.text.slice(0, 80)}`).toBeLessThan(500);
          expect((reply.json as { error: { code: unknown } }).error.code).toEqual(expect.any(String));
        }),
        { numRuns: 50 },
      );
    }
    expect(await snapshot(h)).toBe(before);
    expect((await call(h.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('every GET route: stray query parameters never give a 5xx and change nothing', async () => {
    h = await startHarness(adapter);
    await seed(h);
    const before = await snapshot(h);
    for (const r of h.api.routes.filter((x) => x.method === 'GET' && x.produces !== 'text/event-stream')) {
      await fc.assert(
        fc.asyncProperty(strayQuery, async (query) => {
          const reply = await call(h!.url, 'GET', `${samplePath(r.path)}?${query}`);
          expect(reply.status, `${r.path}?${query}`).toBeLessThan(500);
        }),
        { numRuns: 25 },
      );
    }
    expect(await snapshot(h)).toBe(before);
  });
});
