/**
 * Durable workflows: 3-step no-op workflows per second with many in flight, and the latency of one
 * workflow at a time (start to result, p50/p99), on SQLite (a file, synchronous=FULL) and PostgreSQL.
 * Durability as in production: every step result and every completion is committed before it counts.
 *
 *   npx tsx bench/workflow.bench.ts            (PostgreSQL: DATABASE_URL, or an embedded server)
 *   npm run bench -- --only workflow
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore, type Store } from '../src/store/index.js';
import { createWorkflowEngine, type WorkflowEngine } from '../src/work/workflow/index.js';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';
import { latencySummary, threeSteps } from './peers-workflows.js';

export interface BenchContext {
  readonly postgresUrl: string;
}

interface Sizes {
  /** Workflows in the throughput phase. */
  readonly workflows: number;
  /** Workflows in flight during the throughput phase. */
  readonly concurrency: number;
  /** Workflows run one at a time for latency. */
  readonly latencyRuns: number;
}

const SIZES: Record<'sqlite' | 'postgres', Sizes> = {
  sqlite: { workflows: 30_000, concurrency: 1000, latencyRuns: 300 },
  postgres: { workflows: 20_000, concurrency: 256, latencyRuns: 300 },
};

async function throughput(engine: WorkflowEngine, sizes: Sizes): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: sizes.concurrency }, async () => {
      while (next < sizes.workflows) {
        const i = next++;
        const out = await (await engine.start(threeSteps, i)).result();
        if (out !== i + 3) throw new Error(`a workflow returned ${String(out)}, not ${i + 3}`);
      }
    }),
  );
  return sizes.workflows / ((performance.now() - t0) / 1000);
}

async function latency(engine: WorkflowEngine, runs: number): Promise<ReturnType<typeof latencySummary>> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await (await engine.start(threeSteps, i)).result();
    samples.push(performance.now() - t0);
  }
  return latencySummary(samples);
}

async function measure(store: Store, sizes: Sizes): Promise<{ perSec: number; p50: number; p99: number }> {
  const engine = createWorkflowEngine({ store, nodeId: 'bench' });
  engine.register(threeSteps);
  try {
    for (let i = 0; i < 200; i++) await (await engine.start(threeSteps, i)).result(); // warm-up
    const lat = await latency(engine, sizes.latencyRuns);
    const perSec = await throughput(engine, sizes);
    return { perSec, p50: lat.p50 ?? NaN, p99: lat.p99 ?? NaN };
  } finally {
    await engine.stop();
  }
}

export async function run(context: BenchContext): Promise<Record<string, number>> {
  const folder = mkdtempSync(join(tmpdir(), 'garrison-bench-wf-'));
  const sqlite = await openStore(`sqlite:${join(folder, 'bench.db')}`);
  let s: Awaited<ReturnType<typeof measure>>;
  try {
    s = await measure(sqlite, SIZES.sqlite);
  } finally {
    await sqlite.close();
    rmSync(folder, { recursive: true, force: true });
  }
  const url = new URL(context.postgresUrl);
  url.searchParams.set('schema', `bench_wf_${randomBytes(4).toString('hex')}`);
  const pg = await openStore(url.toString());
  let p: Awaited<ReturnType<typeof measure>>;
  try {
    p = await measure(pg, SIZES.postgres);
  } finally {
    await pg.close();
  }
  return {
    sqliteWorkflowsPerSec: s.perSec,
    sqliteLatencyP50Ms: s.p50,
    sqliteLatencyP99Ms: s.p99,
    postgresWorkflowsPerSec: p.perSec,
    postgresLatencyP50Ms: p.p50,
    postgresLatencyP99Ms: p.p99,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let postgresUrl = process.env.DATABASE_URL ?? '';
  const server = postgresUrl === '' ? await startEmbeddedPostgres() : undefined;
  if (server !== undefined) postgresUrl = server.url;
  try {
    const figures = await run({ postgresUrl });
    for (const [key, value] of Object.entries(figures)) {
      process.stdout.write(`workflow.${key}: ${Math.round(value * 100) / 100}\n`);
    }
  } finally {
    await server?.stop();
  }
}
