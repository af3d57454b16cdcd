/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- JSON replies are checked field by field */
/**
 * Registry queries and listings through HTTP: prototype names and oversized queries are 422
 * `invalid_criteria` (never a 500), listings page with limit and cursor, and a long run of random large
 * queries leaves memory where it was while /healthz keeps answering.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Criterion } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

const MIB = 1024 * 1024;

/** A full garbage collection when the runtime allows one to be asked for. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}

/** A small deterministic random source, so a failing run can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random query within the bounds: 1–50 criteria and up to 1000 values in all, mostly long lists. */
function largeQuery(next: () => number): Criterion[] {
  const count = 1 + Math.floor(next() * 50);
  let budget = 1000;
  const criteria: Criterion[] = [];
  const text = () => `v-${Math.floor(next() * 1e9).toString(36)}-${'x'.repeat(Math.floor(next() * 40))}`;
  for (let i = 0; i < count && budget > 0; i++) {
    const size = Math.max(1, Math.min(budget, Math.floor(next() * (2000 / count))));
    budget -= size;
    const kind = Math.floor(next() * 6);
    const op = next() < 0.7 ? 'in' : 'not_in';
    const list = (make: () => string | number) => Array.from({ length: size }, make);
    if (kind === 0) criteria.push({ path: 'id', op, value: list(text) });
    else if (kind === 1) criteria.push({ path: 'capabilities', op, value: list(text) });
    else if (kind === 2) criteria.push({ path: 'resources.slots', op, value: list(() => next() * 1e6) });
    else if (kind === 3) criteria.push({ path: `metadata.k${i % 7}.deep`, op, value: list(text) });
    else if (kind === 4)
      criteria.push({ path: `metadata.n${i % 5}`, op, value: list(() => Math.floor(next() * 1e4)) });
    else criteria.push({ path: 'node', op, value: list(text) });
  }
  return criteria;
}

describe.each(adapters)('registry queries and listings over HTTP on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function harnessWithAgents(n: number): Promise<Harness> {
    h = await startHarness(adapter);
    const registry = h.context.registry as unknown as {
      registerMany(inputs: unknown[]): Promise<unknown>;
    };
    await registry.registerMany(
      Array.from({ length: n }, (_, i) => ({
        id: `agent-${String(i).padStart(3, '0')}`,
        capabilities: [`cap-${i % 3}`],
        health: i % 4 === 0 ? 'degraded' : 'healthy',
        node: 'n1',
        resources: { slots: i },
        metadata: { n0: i, k0: { deep: `d${i}` } },
      })),
    );
    return h;
  }

  it('criteria paths named like Object.prototype members are 422 invalid_criteria', async () => {
    const { url } = await harnessWithAgents(1);
    for (const path of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (const value of ['x', ['x', 'y']]) {
        const reply = await call(url, 'POST', '/v1/agents/query', {
          criteria: [{ path, op: Array.isArray(value) ? 'in' : 'eq', value }],
        });
        expect([reply.status, reply.json.error.code], path).toEqual([422, 'invalid_criteria']);
        expect(reply.json.error.message).toContain('unknown path');
      }
    }
  });

  it('a query over the bounds is 422 invalid_criteria naming the bound, on every kind of path', async () => {
    const { url } = await harnessWithAgents(1);
    const values = Array.from({ length: 1000 }, (_, i) => `v${i}`);
    for (const path of ['id', 'capabilities', 'metadata.a.b', 'node']) {
      const criteria = Array.from({ length: 50 }, () => ({ path, op: 'in', value: values }));
      const reply = await call(url, 'POST', '/v1/agents/query', { criteria });
      expect([reply.status, reply.json.error.code], path).toEqual([422, 'invalid_criteria']);
      expect(reply.json.error.message).toContain('at most 1000 values');
    }
    const many = await call(url, 'POST', '/v1/agents/query', {
      criteria: Array.from({ length: 51 }, () => ({ path: 'id', op: 'eq', value: 'x' })),
    });
    expect(many.status).toBe(422);
    // The largest allowed query runs.
    const largest = await call(url, 'POST', '/v1/agents/query', {
      criteria: [{ path: 'metadata.k0.deep', op: 'in', value: [...values.slice(1), 'd0'] }],
    });
    expect([largest.status, largest.json.agents.map((a: { id: string }) => a.id)]).toEqual([
      200,
      ['agent-000'],
    ]);
  });

  it('GET /v1/agents and POST /v1/agents/query page with limit and nextCursor', async () => {
    const { url } = await harnessWithAgents(12);
    const walk = async (
      page: (cursor?: string) => Promise<{ agents: Array<{ id: string }>; nextCursor: string | null }>,
    ) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const reply = await page(cursor);
        expect(reply.agents.length).toBeLessThanOrEqual(5);
        seen.push(...reply.agents.map((a) => a.id));
        cursor = reply.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return seen;
    };
    const listed = await walk(async (cursor) => {
      const r = await call(
        url,
        'GET',
        `/v1/agents?health=healthy&limit=5${cursor === undefined ? '' : `&cursor=${cursor}`}`,
      );
      expect(r.status).toBe(200);
      return r.json;
    });
    expect(listed).toEqual(
      ['001', '002', '003', '005', '006', '007', '009', '010', '011'].map((n) => `agent-${n}`),
    );
    const queried = await walk(async (cursor) => {
      const r = await call(url, 'POST', '/v1/agents/query', {
        criteria: [{ path: 'capabilities', op: 'in', value: ['cap-0', 'cap-1'] }],
        limit: 5,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(r.status).toBe(200);
      return r.json;
    });
    expect(queried).toHaveLength(8);
    const all = await call(url, 'GET', '/v1/agents');
    expect([all.json.agents.length, all.json.nextCursor]).toEqual([12, null]);
    for (const bad of [
      'limit=0',
      'limit=1001',
      'cursor=nope',
      `cursor=${Buffer.from('[3]').toString('base64url')}`,
    ]) {
      const r = await call(url, 'GET', `/v1/agents?${bad}`);
      expect([r.status, r.json.error.code], bad).toEqual([422, 'invalid_input']);
    }
  });

  it('GET /v1/timers pages by due time with limit and nextCursor', async () => {
    h = await startHarness(adapter);
    const { url, timers, clock } = h;
    for (let i = 0; i < 7; i++) {
      // Two timers per due time, so a page boundary falls between timers due at the same moment.
      await timers.schedule({ topic: 'paging', at: clock.now() + 1000 * Math.floor(i / 2), payload: i });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await call(
        url,
        'GET',
        `/v1/timers?topic=paging&limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`,
      );
      expect(r.status).toBe(200);
      seen.push(...r.json.timers.map((t: { id: string }) => t.id));
      cursor = r.json.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual((await timers.list({ topic: 'paging' })).map((t) => t.id));
    const bad = await call(url, 'GET', '/v1/timers?cursor=e30');
    expect([bad.status, bad.json.error.code]).toEqual([422, 'invalid_input']);
  });

  it('random large queries leave memory where it was, and /healthz answers all along', async () => {
    const { url, clock } = await harnessWithAgents(200);
    const total = adapter.name === 'sqlite' ? 1000 : 200;
    const next = random(20261207);
    const run = async (n: number): Promise<void> => {
      const criteria = largeQuery(next);
      const reply = await call(url, 'POST', '/v1/agents/query', { criteria, limit: 1000 });
      expect(reply.status, `query ${n}`).toBe(200);
    };
    for (let i = 0; i < 10; i++) await run(i); // warm up: code paths compiled, pools opened
    collectGarbage();
    const before = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = before;
    let health = 0;
    const concurrency = 4;
    for (let i = 0; i < total; i += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, total - i) }, (_, j) => run(i + j));
      const healthz = call(url, 'GET', '/healthz');
      await Promise.all(batch);
      const hz = await healthz;
      expect([hz.status, hz.json]).toEqual([200, { status: 'ok' }]);
      health++;
      peak = Math.max(peak, process.memoryUsage().rss);
      // The test clock keeps a cancelled timer (here each request's body deadline, which holds the
      // request) until time moves; the system clock of a real server clears it at once.
      await clock.advance(0);
      // A collection now and then, so RSS shows what is retained rather than how lazily V8 collects (its
      // heap, once grown, is not given back to the system at once).
      if (i % 100 === 0) collectGarbage();
    }
    collectGarbage();
    const after = process.memoryUsage().rss;
    const heapAfter = process.memoryUsage().heapUsed;
    const mib = (b: number) => Math.round(b / MIB);
    console.log(
      `[${adapter.name}] ${total} random large queries: RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB, ` +
        `after ${mib(after)} MiB; JS heap ${mib(heapBefore)} -> ${mib(heapAfter)} MiB; ${health} /healthz answered 200`,
    );
    expect(health).toBe(Math.ceil(total / concurrency));
    expect(after - before).toBeLessThan(100 * MIB);
    expect(heapAfter - heapBefore).toBeLessThan(50 * MIB);
  }, 600_000);
});
