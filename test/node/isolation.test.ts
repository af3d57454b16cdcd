/**
 * The seed's god agent, split: each coordination part is its own supervised process, and killing one
 * leaves the others running (same pids) while its supervisor restarts it. The node keeps working.
 */
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Pid } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const PARTS = ['workflows', 'garrison.task_distributor', 'garrison.health_monitor', 'metrics_collector'];

const echo = defineAgent({
  type: 'echo',
  capabilities: ['echo'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'say',
      input: z.object({ n: z.number() }),
      output: z.object({ n: z.number() }),
      run: (_ctx, input) => input,
    }),
  ],
});
const twice = defineWorkflow('twice', async (ctx, n: number) => {
  const a = await ctx.dispatch<{ n: number }>('echo', 'say', { n });
  const b = await ctx.dispatch<{ n: number }>('echo', 'say', { n: a.n + 1 });
  return b.n;
});

describe.each(adapters)('coordination parts on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = store = undefined;
  });

  async function until<T>(get: () => T | undefined, what: string): Promise<T> {
    for (let i = 0; i < 2000; i++) {
      const v = get();
      if (v !== undefined) return v;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('a killed part is restarted and no other part is touched; workflows still run end to end', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'iso', workflows: [twice], agents: [echo] });
    await node.agents.start(echo, { id: 'echo-1' });
    const n = node;
    const pids = () => new Map(PARTS.map((p) => [p, n.runtime.whereis(p)]));

    for (const part of PARTS) {
      const before = pids();
      const victim = before.get(part) as Pid;
      expect(victim).toBeDefined();
      expect(n.runtime.kill(victim)).toBe(true);
      const replacement = await until(() => {
        const now = n.runtime.whereis(part);
        return now !== undefined && now.toString() !== victim.toString() ? now : undefined;
      }, `${part} to restart`);
      expect(replacement.toString()).not.toBe(victim.toString());
      for (const other of PARTS.filter((p) => p !== part))
        expect(n.runtime.whereis(other)?.toString(), `${other} untouched when ${part} died`).toBe(
          before.get(other)?.toString(),
        );
    }

    const handle = await n.workflows.start(twice, 40);
    expect(await handle.result({ timeoutMs: 30_000 })).toBe(41);
  });
});
