/**
 * The "workflows" workload of the peer benchmark (../shared/bench/peers/README.md), through Garrison's
 * public API: W durable workflows of three journaled no-op steps with C in flight (start, then await
 * the result), then R workflows one at a time from start to result. Durability is as in production:
 * every step result and every completion is committed before it counts.
 *
 *   npx tsx bench/peers-workflows.ts --url postgres://… [--workflows 2000] [--latency-runs 200] [--concurrency 32]
 */
import { pathToFileURL } from 'node:url';
import { openStore } from '../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../src/work/workflow/index.js';

export interface WorkflowsWorkloadOptions {
  /** A store URL (an empty PostgreSQL database, or `sqlite:<file>`). */
  readonly url: string;
  /** Workflows in the throughput phase. */
  readonly workflows: number;
  /** Workflows run one at a time in the latency phase. */
  readonly latencyRuns: number;
  /** Workflows in flight during the throughput phase. */
  readonly concurrency: number;
}

export interface WorkflowsWorkloadResult {
  readonly system: 'garrison';
  readonly workflows: number;
  readonly workflowsPerSec: number;
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly max: number | null;
  };
}

/** The peer scripts' percentile: the sample at floor(p% × n), rounded to 0.01 ms. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return Math.round((sorted[i] as number) * 100) / 100;
}

export function latencySummary(samples: readonly number[]): WorkflowsWorkloadResult['latencyMs'] {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: percentile(sorted, 100) };
}

export const threeSteps = defineWorkflow('threeSteps', async (ctx, i: number) => {
  const a = await ctx.step('a', async () => i + 1);
  const b = await ctx.step('b', async () => a + 1);
  return ctx.step('c', async () => b + 1);
});

export async function runWorkflowsWorkload(
  options: WorkflowsWorkloadOptions,
): Promise<WorkflowsWorkloadResult> {
  const store = await openStore(options.url);
  const engine = createWorkflowEngine({ store, nodeId: 'bench-node' });
  engine.register(threeSteps);
  try {
    // Warm-up, outside the figures: prepared statements, connections, JIT.
    for (let i = 0; i < 20; i++) await (await engine.start(threeSteps, i)).result();

    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < options.workflows) {
          const i = next++;
          const handle = await engine.start(threeSteps, i);
          const out = await handle.result();
          if (out !== i + 3)
            throw new Error(`workflow ${handle.workflowId} returned ${String(out)}, not ${i + 3}`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;

    const samples: number[] = [];
    for (let i = 0; i < options.latencyRuns; i++) {
      const s = performance.now();
      await (await engine.start(threeSteps, i)).result();
      samples.push(performance.now() - s);
    }
    return {
      system: 'garrison',
      workflows: options.workflows,
      workflowsPerSec: Math.round(options.workflows / seconds),
      latencyMs: latencySummary(samples),
    };
  } finally {
    await engine.stop();
    await store.close();
  }
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = arg('url');
  if (url === undefined) {
    process.stderr.write(
      'usage: peers-workflows.ts --url <store url> [--workflows W] [--latency-runs R] [--concurrency C]\n',
    );
    process.exit(2);
  }
  const result = await runWorkflowsWorkload({
    url,
    workflows: Number(arg('workflows', '2000')),
    latencyRuns: Number(arg('latency-runs', '200')),
    concurrency: Number(arg('concurrency', '32')),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
