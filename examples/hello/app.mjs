// A first Garrison application: one agent type, one workflow that uses it, one queue with its handler
// and one cron schedule. Run it with `npx garrison dev --app app.mjs` (or worker / serve).
import { z } from 'zod';
import { defineAction, defineAgent, defineApp, defineQueue, defineWorkflow } from 'garrison';

/** An agent type: greeters answer `hello` and count how many they greeted (checkpointed state). */
export const greeter = defineAgent({
  type: 'hello.greeter',
  capabilities: ['greet'],
  state: z.object({ greeted: z.number().int() }),
  initialState: { greeted: 0 },
  actions: [
    defineAction({
      name: 'hello',
      input: z.object({ name: z.string().min(1) }),
      output: z.string(),
      run: (_ctx, input) => `hello ${input.name}`,
    }),
  ],
});

/** A workflow: each step is journaled, so a crash resumes after the last finished one. */
export const greet = defineWorkflow('hello.greet', async (ctx, input) => {
  const line = await ctx.dispatch(greeter.action('hello'), { name: input.name });
  return ctx.step('shout', async () => line.toUpperCase());
});

/** A queue: tasks are durable rows, claimed by the nodes running this app. */
export const mail = defineQueue({ name: 'hello.mail', schema: z.object({ to: z.string().email() }) });

export default defineApp({
  version: '1.0.0',
  workflows: [greet],
  agents: [{ definition: greeter, count: 2 }],
  queues: [{ queue: mail, handler: (task) => console.log(`mail to ${task.payload.to}`) }],
  schedules: [{ name: 'hello.hourly', cron: '0 * * * *', workflow: greet, input: { name: 'every hour' } }],
  config: { drainTimeoutMs: 5000 },
});
