import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { listNodes, startNode, type GarrisonNode } from '../../src/node/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const timing = { heartbeatMs: 2000, downAfterMs: 15_000 };

describe.each(adapters)('node membership on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = undefined;
    store = undefined;
  });

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setImmediate(r));
    expect(await check()).toBe(true);
  }

  it('a node publishes the workflows, capabilities and queues it serves when it joins and with each heartbeat', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const flow = defineWorkflow('doc.process', () => Promise.resolve(1));
    const docs = defineAgent({
      type: 'docs',
      capabilities: ['doc.validate', 'doc.ocr'],
      state: z.object({}),
      initialState: {},
      actions: [defineAction({ name: 'noop', input: z.object({}), output: z.null(), run: () => null })],
    });
    node = await startNode({
      store,
      clock,
      nodeName: 'n1',
      workflows: [flow],
      agents: [docs],
      queues: ['emails', 'audit', 'emails'],
    });
    const serves = {
      workflows: ['doc.process'],
      capabilities: ['doc.ocr', 'doc.validate'],
      queues: ['audit', 'emails'],
    };
    expect((await listNodes(store, clock.now(), timing))[0]?.info).toMatchObject({ serves });
    await clock.advance(timing.heartbeatMs);
    // The beat runs on the node's scheduler: wait for it with real I/O in between (a guard, not a timing).
    for (let i = 0; i < 3000; i++) {
      if ((await listNodes(store, clock.now(), timing))[0]?.heartbeatAt === 1_002_000) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const beat = (await listNodes(store, clock.now(), timing))[0];
    expect(beat?.heartbeatAt).toBe(1_002_000);
    expect(beat?.info).toMatchObject({ serves, health: 'healthy' });
  });

  it('a node heartbeats on its scheduler while it runs, is suspect when silent, and down once stopped', async () => {
    store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    node = await startNode({ store, clock, nodeName: 'n1' });
    const first = (await listNodes(store, clock.now(), timing))[0];
    expect(first).toMatchObject({ id: 'n1', state: 'up', heartbeatAt: 1_000_000 });

    await clock.advance(timing.heartbeatMs);
    await until(async () => (await listNodes(store!, clock.now(), timing))[0]?.heartbeatAt === 1_002_000);
    // Each beat publishes the node's health and resource usage for `garrison status` on any machine.
    const published = (await listNodes(store, clock.now(), timing))[0]?.info as {
      health: string;
      resources: Record<string, { current: number; limit: number }>;
    };
    expect(published.health).toBe('healthy');
    expect(published.resources.processes?.current).toBeGreaterThan(0);

    // Seen from later, without the node beating in between: suspect, then down.
    expect((await listNodes(store, clock.now() + 5 * timing.heartbeatMs, timing))[0]?.state).toBe('suspect');
    expect((await listNodes(store, clock.now() + timing.downAfterMs + 1, timing))[0]?.state).toBe('down');

    await node.stop();
    node = undefined;
    expect((await listNodes(store, clock.now(), timing))[0]?.state).toBe('down');
    expect(clock.pendingTimers).toBe(0);
  });
});
