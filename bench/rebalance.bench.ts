/**
 * Rebalancing: four agents of one capability, one of them given ten times the work of the others (it
 * was the only one there when a burst of steps was dispatched; three more joined with a tenth each).
 * Figures: the time until every step is done with rebalancing off and on (a node's distributor moves
 * queued steps from the busy agent to the idle ones on its sweeps), and their ratio; steps moved.
 *
 *   npm run bench -- --only rebalance [--rebalance-steps 200] [--rebalance-step-ms 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineAction, defineAgent } from '../src/agents/index.js';
import { startNode } from '../src/node/index.js';
import { defineWorkflow } from '../src/work/workflow/index.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

const STEPS = flag('--rebalance-steps', 200);
const STEP_MS = flag('--rebalance-step-ms', 100);

const worker = defineAgent({
  type: 'bench-worker',
  capabilities: ['bench-work'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'work',
      input: z.object({ n: z.number() }),
      output: z.object({ n: z.number() }),
      // A step that takes time without holding the CPU: an agent calling a slow service.
      run: async (_ctx, { n }) => {
        await sleep(STEP_MS);
        return { n };
      },
    }),
  ],
});

const job = defineWorkflow('bench-job', (ctx, n: number) => ctx.dispatch(worker.action('work'), { n }));

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await condition())) {
    if (performance.now() - t0 > 600_000) throw new Error(`gave up waiting until ${what}`);
    await sleep(20);
  }
}

/** One round: the burst on one agent, then the rest of the team. Answers ms until all done, and moves. */
async function round(rebalance: boolean): Promise<{ ms: number; moved: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'garrison-bench-rebalance-'));
  const node = await startNode({
    config: { store: `sqlite:${join(dir, 'bench.db')}`, nodeName: 'bench', distributor: { rebalance } },
    agents: [worker],
    workflows: [job],
  });
  try {
    await node.agents.start(worker, { id: 'busy' });
    // The busy agent's share: everything dispatched while it was alone, less what the others get anyway.
    const alone = Math.round((STEPS * 10) / 13);
    const ids: string[] = [];
    for (let n = 0; n < alone; n++) ids.push((await node.workflows.start(job, n)).workflowId);
    await waitFor(async () => node.distributor.stats().routed >= alone, 'the burst is on the busy agent');
    const t0 = performance.now();
    for (const id of ['idle-1', 'idle-2', 'idle-3']) await node.agents.start(worker, { id });
    for (let n = alone; n < STEPS; n++) ids.push((await node.workflows.start(job, n)).workflowId);
    for (const id of ids) await node.workflows.result(id, { timeoutMs: 600_000 });
    return { ms: performance.now() - t0, moved: node.distributor.stats().rebalanced };
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number>> {
  const off = await round(false);
  const on = await round(true);
  return {
    steps: STEPS,
    stepMs: STEP_MS,
    withoutRebalancingMs: off.ms,
    withRebalancingMs: on.ms,
    ratio: on.ms / off.ms,
    movedSteps: on.moved,
  };
}
