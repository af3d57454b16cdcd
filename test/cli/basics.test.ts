import { describe, expect, it } from 'vitest';
import { joinCluster } from '../../src/node/membership.js';
import { openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

describe.each(adapters)('migrate and status on $name', (adapter) => {
  it('status before migrate lists the pending migrations; after, the nodes and their states', async () => {
    const url = adapter.freshUrl();
    const before = lastJson<{ store: { version: number; pending: string[] } }>(
      (await cli('status', '--store', url, '--json')).stdout,
    );
    expect(before.store.version).toBe(0);
    expect(before.store.pending.length).toBeGreaterThan(0);

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
