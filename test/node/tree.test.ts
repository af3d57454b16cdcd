import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { sqliteAdapter } from '../support/stores.js';

describe('the node supervision tree', () => {
  const nodes: GarrisonNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  it('a test node (temporary store, virtual clock, own name) runs exactly the tree of a default production node', async () => {
    const store = await sqliteAdapter.open();
    const test = await startNode({ store, clock: new VirtualClock(0), nodeName: 'test-node' });
    nodes.push(test);
    const dir = mkdtempSync(join(tmpdir(), 'garrison-node-'));
    const production = await startNode({ config: { store: `sqlite:${join(dir, 'garrison.db')}` } });
    nodes.push(production);

    const running = await test.describe();
    expect(running).toEqual(await production.describe());
    expect(running.id).toBe('garrison.node');
    expect(running.children.map((c) => c.id)).toEqual(['scheduler', 'membership', 'coordination', 'agents']);
    const coordination = running.children.find((c) => c.id === 'coordination')?.node;
    expect(coordination?.kind === 'supervisor' && coordination.children.map((c) => c.id)).toEqual([
      'workflows',
      'task_distributor',
      'health_monitor',
      'metrics_collector',
    ]);
  });

  it('supervision settings are not configuration: an attempt to set them is refused', async () => {
    const store = await sqliteAdapter.open();
    await expect(
      startNode({ store, config: { supervision: { maxRestarts: 100 } } as never }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    await store.close();
  });
});
