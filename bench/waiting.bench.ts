/**
 * Waiting costs nothing: many runs waiting for a signal on one node (a workflow supervisor with its
 * default limit of 64 executing runs), parked with nothing in memory. Figures: the node's RSS once they
 * are all parked (and its growth over the start), the time to start and park them all, and the latency
 * from `signal` to the run's code going on, p50/p99, over a random sample signalled one at a time.
 *
 *   npm run bench -- --only waiting [--waiting-runs 100000] [--waiting-runs-pg 10000] [--waiting-sample 1000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorkflowSupervisor } from '../src/coordination/index.js';
import { createRuntime, systemClock } from '../src/runtime/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { defineWorkflow } from '../src/work/workflow/index.js';
import { latencySummary } from './peers-workflows.js';

export interface BenchContext {
  readonly postgresUrl: string;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

/** When each run's code went on after its signal (performance.now()), by run id. */
const resumed = new Map<string, number>();

const approval = defineWorkflow('bench-approval', async (ctx, n: number) => {
  const ok = await ctx.waitForSignal<boolean>('approval');
  resumed.set(ctx.workflowId, performance.now());
  return ok === true ? n : -1;
});

const BATCH = 5000;

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs: number,
): Promise<void> {
  const t0 = performance.now();
  while (!(await condition())) {
    if (performance.now() - t0 > limitMs) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

async function measure(store: Store, runs: number, sampleSize: number): Promise<Record<string, number>> {
  resumed.clear();
  const runtime = createRuntime({ clock: systemClock });
  const sup = createWorkflowSupervisor({
    runtime,
    store,
    nodeId: 'bench',
    workflows: [approval],
    maxRunning: 64,
  });
  await sup.start();
  try {
    const rssBefore = rssMb();
    const t0 = performance.now();
    for (let from = 0; from < runs; from += BATCH) {
      const items = [];
      for (let i = from; i < Math.min(runs, from + BATCH); i++)
        items.push({ workflow: approval, input: i, workflowId: `wait-${i}` });
      await sup.engine.startMany(items);
    }
    await waitFor(() => sup.engine.activity().parked === runs, `all ${runs} runs are parked`, 3_600_000);
    const parkSeconds = (performance.now() - t0) / 1000;
    const rssParked = rssMb();
    const heapParkedMb = process.memoryUsage().heapUsed / 1024 / 1024;
    const executingWhileParked = sup.engine.activity().executing;

    // A random sample, signalled one at a time: the latency of one wake-up, not of a queue.
    const ids = Array.from({ length: runs }, (_, i) => `wait-${i}`);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    const samples: number[] = [];
    for (const id of ids.slice(0, Math.min(sampleSize, runs))) {
      const sent = performance.now();
      await sup.engine.signal(id, 'approval', true);
      await waitForResume(id);
      samples.push((resumed.get(id) ?? NaN) - sent);
    }
    const lat = latencySummary(samples);
    return {
      runs,
      parkSeconds,
      parkedPerSec: runs / parkSeconds,
      rssBeforeMb: rssBefore,
      rssParkedMb: rssParked,
      heapParkedMb,
      executingWhileParked,
      signalToResumeP50Ms: lat.p50 ?? NaN,
      signalToResumeP99Ms: lat.p99 ?? NaN,
      signalToResumeMaxMs: lat.max ?? NaN,
    };
  } finally {
    await sup.stop();
    await runtime.shutdown();
  }
}

/** Resolves once the run's code has gone on (checked every turn of the event loop, not on a timer). */
async function waitForResume(id: string): Promise<void> {
  const t0 = performance.now();
  while (!resumed.has(id)) {
    if (performance.now() - t0 > 60_000) throw new Error(`run ${id} did not resume`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export async function run(context: BenchContext): Promise<Record<string, number>> {
  const sqliteRuns = flag('--waiting-runs', 100_000);
  const postgresRuns = flag('--waiting-runs-pg', 10_000);
  const sample = flag('--waiting-sample', 1000);
  const folder = mkdtempSync(join(tmpdir(), 'garrison-bench-waiting-'));
  const out: Record<string, number> = {};
  const sqlite = await openStore(`sqlite:${join(folder, 'bench.db')}`);
  try {
    for (const [k, v] of Object.entries(await measure(sqlite, sqliteRuns, sample))) out[`sqlite.${k}`] = v;
  } finally {
    await sqlite.close();
    rmSync(folder, { recursive: true, force: true });
  }
  const url = new URL(context.postgresUrl);
  url.searchParams.set('schema', `bench_wait_${randomBytes(4).toString('hex')}`);
  const pg = await openStore(url.toString());
  try {
    for (const [k, v] of Object.entries(await measure(pg, postgresRuns, sample))) out[`postgres.${k}`] = v;
  } finally {
    await pg.close();
  }
  return out;
}
