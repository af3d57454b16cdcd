import { describe, expect, it } from 'vitest';
import { joinCluster } from '../../src/node/membership.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

describe.each(adapters)('migrate and status on $name', (adapter) => {
  it('status before migrate says there is no store (creating none); after, the nodes and their states', async () => {
    const url = adapter.freshUrl();
    const before = await cli('status', '--store', url, '--json');
    expect(before.code).toBe(1);
    expect(before.stdout).toBe('');
    expect(before.stderr).toMatch(/^garrison: there is no store at .*\[store_not_found\]\n$/);
    await expect(openStore(url, { create: false })).rejects.toMatchObject({ code: 'store_not_found' });

    expect((await cli('migrate', '--store', url)).code).toBe(0);
    const store = await openStore(url);
    try {
      await joinCluster(store, 'node-a', Date.now(), {});
      await joinCluster(store, 'node-b', Date.now() - 3_600_000, {});
    } finally {
      await store.close();
    }
    const after = lastJson<{ store: { pending: string[] }; nodes: Array<{ id: string; state: string }> }>(
      (await cli('status', '--store', url, '--json')).stdout,
    );
    expect(after.store.pending).toEqual([]);
    expect(after.nodes.map((n) => [n.id, n.state])).toEqual([
      ['node-a', 'up'],
      ['node-b', 'down'],
    ]);
  });
});
