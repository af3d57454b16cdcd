/**
 * Work no agent can take, for the tests of what shows why work waits: an agent type with one idle
 * action, and a workflow whose dispatched step asks for a capability no agent has, so it is parked on
 * `dispatch:doc.nobody`.
 */
import { z } from 'zod';
import { defineAction, defineAgent } from '../../src/agents/index.js';
import { defineWorkflow } from '../../src/work/index.js';

export const idler = defineAgent({
  type: 'idler',
  capabilities: ['idle'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'nap', input: z.object({}), output: z.null(), run: () => null })],
});

/** A step no agent can take: it is parked on `dispatch:doc.nobody`. */
export const stranded = defineWorkflow('stranded', async (ctx, _input: unknown) => {
  await ctx.dispatch(idler.action('nap'), {}, { capability: 'doc.nobody' });
});
