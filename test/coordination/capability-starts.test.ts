/**
 * A capability-wide round started from a workflow step and from an agent's action, on a node
 * (`node.coordination.capability`): the step's and the action's code reach the node's primitives, and the
 * round is the same durable rows whoever started it. Both stores.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters, type TestAdapter } from '../support/stores.js';

describe.each(adapters)(
  'capability-wide rounds started from a step and an action on $name',
  (adapter: TestAdapter) => {
    it('a workflow step creates a barrier and an action opens a vote among the agents with the capability', async () => {
      const holder: { node?: GarrisonNode } = {};
      const openVote = defineAction({
        name: 'open_vote',
        input: z.object({ id: z.string() }),
        output: z.object({ voters: z.array(z.string()) }),
        run: async (_ctx, { id }) => {
          const p = await holder.node!.coordination.capability!.propose('review', 'ship', {
            options: ['yes', 'no'],
            timeoutMs: 60_000,
            id,
          });
          return { voters: [...(p.voters ?? [])] };
        },
      });
      const reviewer = defineAgent({
        type: 'reviewer',
        capabilities: ['review'],
        state: z.object({}),
        initialState: {},
        actions: [openVote],
      });
      const phase = defineWorkflow('phase', async (ctx) => {
        const b = await ctx.step('barrier', async () => {
          const status = await holder.node!.coordination.capability!.barrier('review', 'phase-2');
          return status.participants;
        });
        return { participants: b };
      });
      const node = await startNode({
        config: { store: adapter.freshUrl(), nodeName: 'n1' },
        workflows: [phase],
        agents: [reviewer],
      });
      holder.node = node;
      try {
        for (const id of ['r-1', 'r-2']) await node.agents.start(reviewer, { id });
        const run = await node.workflows.start(phase, undefined);
        expect(await run.result()).toEqual({ participants: ['r-1', 'r-2'] });
        expect(await node.agents.call('r-1', 'open_vote', { id: 'v1' })).toEqual({ voters: ['r-1', 'r-2'] });
        const coord = node.coordination.capability!;
        await coord.vote('v1', 'r-1', 'yes');
        expect(await coord.vote('v1', 'r-2', 'yes')).toMatchObject({ status: 'decided', decision: 'yes' });
        await coord.arrive('phase-2', 'r-1');
        expect(await coord.arrive('phase-2', 'r-2')).toMatchObject({ released: true });
      } finally {
        await node.stop();
      }
    });
  },
);
