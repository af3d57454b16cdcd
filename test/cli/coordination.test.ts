/**
 * `garrison locks`, `garrison leaders` and `garrison pools` as real processes: what the store holds, as
 * a table or JSON, page by page; a bad cursor is refused with its code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordinationPrimitives, type CoordinationPrimitives } from '../../src/coordination/index.js';
import { systemClock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { expectOk, garrison, json } from './spawn.js';

const DAY = 86_400_000;

describe.each(adapters)('coordination commands on $name', (adapter) => {
  let store: Store | undefined;
  let c: CoordinationPrimitives | undefined;
  afterEach(async () => {
    await c?.close();
    await store?.close();
    c = undefined;
    store = undefined;
  });

  it('list locks, leaders and pools (items, holders, waiters) as tables and JSON, one page at a time', async () => {
    const url = adapter.freshUrl();
    store = await openStore(url);
    c = createCoordinationPrimitives({ store, clock: systemClock, nodeId: 'seed' });
    await c.locks.acquire('deploy', { holder: 'ci', ttlMs: DAY });
    await c.leaders.campaign('schedulers', 'node-1', { ttlMs: DAY });
    await c.pools.create('gpu', { items: ['g0'] });
    await c.pools.create('licences', { count: 2 });
    await c.pools.checkOut('gpu', { holder: 'train-1', ttlMs: DAY });
    void c.pools
      .checkOut('gpu', { holder: 'train-2', ttlMs: DAY, waitMs: DAY, requestId: 'r2' })
      .catch(() => undefined);
    for (let i = 0; i < 2000 && (await c.pools.status('gpu')).waiters.length === 0; i++)
      await new Promise((resolve) => setImmediate(resolve));

    const at = ['--store', url];
    const [locks, leaders, pools, poolsText, firstPage, badCursor] = await Promise.all([
      garrison(['locks', ...at, '--json']),
      garrison(['leaders', ...at]),
      garrison(['pools', ...at, '--json']),
      garrison(['pools', ...at]),
      garrison(['pools', ...at, '--json', '--limit', '1']),
      garrison(['pools', ...at, '--cursor', 'not-a-cursor!']),
    ]);
    expectOk(locks);
    expect(json(locks)).toMatchObject({
      locks: [{ name: 'deploy', holder: 'ci', fence: 1 }],
      nextCursor: null,
    });
    expectOk(leaders);
    expect(leaders.stdout).toMatch(/^group\s+leader\s+term/m);
    expect(leaders.stdout).toMatch(/^schedulers\s+node-1\s+1\s/m);
    expectOk(pools);
    expect(json(pools)).toMatchObject({
      pools: [
        {
          name: 'gpu',
          available: 0,
          items: [{ item: 'g0', holder: 'train-1' }],
          waiters: [{ requestId: 'r2', holder: 'train-2' }],
        },
        { name: 'licences', size: 2, available: 2 },
      ],
      nextCursor: null,
    });
    expectOk(poolsText);
    expect(poolsText.stdout).toMatch(/^pool gpu: 0 of 1 available, 1 waiting$/m);
    expect(poolsText.stdout).toMatch(/^r2\s+train-2\s/m);
    expect(poolsText.stdout).toMatch(/^pool licences: 2 of 2 available, 0 waiting$/m);

    const page = json<{ pools: Array<{ name: string }>; nextCursor: string }>(firstPage);
    expect(page.pools.map((p) => p.name)).toEqual(['gpu']);
    const second = await garrison(['pools', ...at, '--json', '--limit', '1', '--cursor', page.nextCursor]);
    expect(json(second)).toMatchObject({ pools: [{ name: 'licences' }], nextCursor: null });

    expect(badCursor.code).toBe(1);
    expect(badCursor.stderr).toMatch(/^garrison: invalid cursor: .* \[invalid_input\]$/m);
  });
});
