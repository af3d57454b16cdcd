/**
 * `garrison workflows start NAME` starts any workflow a live node registers, by name, with no definition
 * in the command-line process: a node in this process registers a workflow the CLI has never heard of,
 * the CLI (a real process) starts it, the node executes it; the node checks the input by its schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { defineWorkflow } from '../../src/work/workflow/index.js';
import { adapters } from '../support/stores.js';
import { expectOk, garrison, json } from './spawn.js';

const TIMEOUT = 120_000;

const greet = defineWorkflow(
  'greet.only.here',
  async (ctx, input: { name: string }) => ctx.step('greet', () => Promise.resolve(`hello ${input.name}`)),
  { inputSchema: z.object({ name: z.string().min(1) }).strict() },
);

describe.each(adapters)('garrison workflows start by name on $name', (adapter) => {
  let node: GarrisonNode | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = store = undefined;
  });

  it(
    'starts a workflow only a live node registers; it completes; bad input fails on the node',
    async () => {
      const url = adapter.freshUrl();
      store = await openStore(url);
      node = await startNode({ store, nodeName: 'executor', workflows: [greet] });
      const at = ['--store', url];

      const started = await garrison([
        'workflows',
        'start',
        'greet.only.here',
        '--input',
        '{"name":"ada"}',
        '--id',
        'g-1',
        ...at,
        '--json',
      ]);
      expectOk(started);
      expect(started.stderr).toBe(''); // the node serves it: no warning
      expect(json(started)).toEqual({ workflowId: 'g-1', created: true });
      expect(await node.workflows.result('g-1', { timeoutMs: 60_000 })).toBe('hello ada');

      const bad = await garrison([
        'workflows',
        'start',
        'greet.only.here',
        '--input',
        '{"name":""}',
        ...at,
        '--json',
      ]);
      expectOk(bad);
      const { workflowId } = json<{ workflowId: string }>(bad);
      await expect(node.workflows.result(workflowId, { timeoutMs: 60_000 })).rejects.toThrow();
      expect((await node.workflows.get(workflowId))?.error?.code).toBe('invalid_input');
    },
    TIMEOUT,
  );
});
