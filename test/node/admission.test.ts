import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';

const worker = defineAgent({
  type: 'w',
  capabilities: ['w'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'noop', input: z.object({}), output: z.null(), run: () => null })],
});
const noop = defineWorkflow('noop', async (ctx) => ctx.step('a', async () => 1));

describe.each(adapters)('admission past resource limits on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = store = undefined;
  });

  it('an agent past the agents limit is refused with resource_exhausted and nothing is registered', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'small', config: { limits: { agents: 2 } }, agents: [worker] });
    await node.agents.start(worker, { id: 'w1' });
    await node.agents.start(worker, { id: 'w2' });
    const refused = await node.agents.start(worker, { id: 'w3' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'resource_exhausted' });
    expect((refused as { message: string }).message).toContain('agents');
    expect((await node.registry.list()).map((a) => a.id).sort()).toEqual(['w1', 'w2']);
    await node.agents.stop('w1');
    await node.agents.start(worker, { id: 'w3' });
    expect((await node.registry.list()).map((a) => a.id).sort()).toEqual(['w2', 'w3']);
  });

  it('a workflow or a batch started past the process limit is refused and no run is written', async () => {
    store = await adapter.open();
    node = await startNode({
      store,
      nodeName: 'tiny',
      config: { limits: { processes: 1 } },
      workflows: [noop],
    });
    await expect(node.workflows.start(noop, undefined)).rejects.toMatchObject({ code: 'resource_exhausted' });
    // A batch is admitted as a start is: refused whole.
    await expect(
      node.workflows.startMany([
        { workflow: noop, input: undefined, workflowId: 'b-1' },
        { workflow: noop, input: undefined, workflowId: 'b-2' },
      ]),
    ).rejects.toMatchObject({ code: 'resource_exhausted' });
    expect(await node.workflows.list()).toEqual([]);
  });

  it('limits are validated with the node configuration', async () => {
    store = await adapter.open();
    await expect(startNode({ store, config: { limits: { agents: 0 } } })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });
});
