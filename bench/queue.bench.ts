/**
 * Task queue benchmark: bulk enqueue tasks/s, drain tasks/s with no-op handlers, and enqueue-to-start
 * latency (p50/p99/max) into an idle worker, on SQLite and PostgreSQL. Every completion is committed
 * (SQLite synchronous=FULL, PostgreSQL synchronous_commit on) before it counts; leases work as in
 * production.
 *
 *   npx tsx bench/queue.bench.ts --store sqlite|postgres [--jobs N] [--latency-jobs M] [--no-handoff]
 *   npm run bench -- --only queue
 *
 * PostgreSQL: DATABASE_URL, or an embedded server started here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore, type Store } from '../src/store/index.js';
import { createQueueClient, createWorker, defineQueue, type EnqueueItem } from '../src/work/index.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../test/support/embedded-postgres.js';

export interface JobsWorkloadOptions {
  readonly store: Store;
  /** Tasks bulk-enqueued (batches of 1,000) and then drained. */
  readonly jobs: number;
  /** Single tasks enqueued one at a time, 3 ms apart, into the idle worker. */
  readonly latencyJobs: number;
  /** Hand single enqueues straight to the idle local worker (default true). */
  readonly handoff?: boolean;
  /** Worker concurrency. Default 64. */
  readonly concurrency?: number;
  /** Worker claim batch. Default 1000. */
  readonly batchSize?: number;
}

export interface JobsWorkloadResult {
  readonly enqueuePerSec: number;
  readonly throughputPerSec: number;
  readonly handled: number;
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly max: number | null;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return Math.round(sorted[i]! * 100) / 100;
}

async function unfinished(store: Store): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM garrison_tasks WHERE state IN ('queued', 'running')`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Polls until no task is unfinished; answers the time it saw that (performance.now()). */
async function waitUntilDone(store: Store, timeoutMs = 600_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if ((await unfinished(store)) === 0) return performance.now();
    if (performance.now() - t0 > timeoutMs) throw new Error('timed out waiting for the queue to drain');
    await sleep(5);
  }
}

/** The peer benchmark's "jobs" workload through Garrison's public API. */
export async function runJobsWorkload(options: JobsWorkloadOptions): Promise<JobsWorkloadResult> {
  const { store, jobs, latencyJobs } = options;
  const noop = defineQueue({ name: 'noop' });
  const probe = defineQueue({ name: 'probe' });
  const client = createQueueClient({ store, queues: [noop, probe], localHandoff: options.handoff ?? true });

  // 1. bulk enqueue
  let t0 = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    const items: EnqueueItem[] = [];
    for (let j = i; j < Math.min(jobs, i + 1000); j++) items.push({ queue: noop, payload: { i: j } });
    await client.enqueueMany(items);
  }
  const enqueueSec = (performance.now() - t0) / 1000;

  // 2. drain: from the worker's start until every completion is committed and the store shows nothing unfinished
  let handled = 0;
  let allDone!: () => void;
  const drained = new Promise<void>((resolve) => (allDone = resolve));
  const errors: unknown[] = [];
  const worker = createWorker({
    store,
    queues: noop,
    concurrency: options.concurrency ?? 64,
    batchSize: options.batchSize ?? 1000,
    // Room for a second full batch while one is being worked, so every claim asks for a whole batch.
    prefetch: 2 * (options.batchSize ?? 1000),
    handler: () => {
      handled++;
    },
  });
  let completed = 0;
  worker.on('completed', () => {
    if (++completed === jobs) allDone();
  });
  worker.on('error', ({ error }) => errors.push(error));
  t0 = performance.now();
  await worker.start();
  if (jobs > 0) await drained;
  const drainedAt = await waitUntilDone(store);
  const drainSec = (drainedAt - t0) / 1000;
  await worker.stop();

  // 3. latency: one task at a time into an idle worker
  const samples: number[] = [];
  let probes = 0;
  let probesDone!: () => void;
  const probed = new Promise<void>((resolve) => (probesDone = resolve));
  const probeWorker = createWorker({
    store,
    queues: probe,
    concurrency: 8,
    handler: (task) => {
      samples.push(performance.now() - (task.payload as { t: number }).t);
    },
  });
  probeWorker.on('completed', () => {
    if (++probes === latencyJobs) probesDone();
  });
  probeWorker.on('error', ({ error }) => errors.push(error));
  await probeWorker.start();
  await sleep(200);
  for (let i = 0; i < latencyJobs; i++) {
    await client.enqueue(probe, { t: performance.now() });
    await sleep(3);
  }
  if (latencyJobs > 0) await probed;
  await waitUntilDone(store);
  await probeWorker.stop();
  if (errors.length > 0) throw new AggregateError(errors, `the workers reported ${errors.length} error(s)`);

  const sorted = [...samples].sort((a, b) => a - b);
  return {
    enqueuePerSec: Math.round(jobs / enqueueSec),
    throughputPerSec: Math.round(jobs / drainSec),
    handled,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: percentile(sorted, 100) },
  };
}

export interface QueueBenchOptions {
  /** A PostgreSQL server URL (a fresh schema is made on it). Without it PostgreSQL is skipped. */
  readonly postgresUrl?: string;
  /** Which stores to measure. Default both (PostgreSQL only with a URL). */
  readonly stores?: ReadonlyArray<'sqlite' | 'postgres'>;
  readonly jobs?: number;
  readonly latencyJobs?: number;
  readonly handoff?: boolean;
}

async function measure(url: string, options: QueueBenchOptions): Promise<JobsWorkloadResult> {
  const store = await openStore(url);
  try {
    return await runJobsWorkload({
      store,
      jobs: options.jobs ?? 50_000,
      latencyJobs: options.latencyJobs ?? 300,
      handoff: options.handoff,
    });
  } finally {
    await store.close();
  }
}

/** Runs the workload on each store; figures are flat keys `<store>.<figure>`. */
export async function run(options: QueueBenchOptions = {}): Promise<Record<string, number>> {
  const stores = options.stores ?? (options.postgresUrl === undefined ? ['sqlite'] : ['sqlite', 'postgres']);
  const out: Record<string, number> = {};
  for (const kind of stores) {
    let url: string;
    let folder: string | undefined;
    if (kind === 'sqlite') {
      folder = mkdtempSync(join(tmpdir(), 'garrison-bench-'));
      url = `sqlite:${join(folder, 'bench.db')}`;
    } else {
      if (options.postgresUrl === undefined) throw new Error('the postgres figures need a server URL');
      const u = new URL(options.postgresUrl);
      u.searchParams.set('schema', `bench_queue_${randomBytes(4).toString('hex')}`);
      url = u.toString();
    }
    try {
      const r = await measure(url, options);
      out[`${kind}.enqueuePerSec`] = r.enqueuePerSec;
      out[`${kind}.drainPerSec`] = r.throughputPerSec;
      out[`${kind}.latencyP50Ms`] = r.latencyMs.p50 ?? NaN;
      out[`${kind}.latencyP99Ms`] = r.latencyMs.p99 ?? NaN;
      out[`${kind}.latencyMaxMs`] = r.latencyMs.max ?? NaN;
    } finally {
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    }
  }
  return out;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const kind = arg('store') ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres')
    throw new Error(`--store must be sqlite or postgres, not ${kind}`);
  let server: RunningPostgres | undefined;
  let postgresUrl = process.env.DATABASE_URL;
  if (kind === 'postgres' && (postgresUrl === undefined || postgresUrl === '')) {
    server = await startEmbeddedPostgres();
    postgresUrl = server.url;
  }
  try {
    const figures = await run({
      postgresUrl,
      stores: [kind],
      jobs: arg('jobs') === undefined ? undefined : Number(arg('jobs')),
      latencyJobs: arg('latency-jobs') === undefined ? undefined : Number(arg('latency-jobs')),
      handoff: !process.argv.includes('--no-handoff'),
    });
    for (const [k, v] of Object.entries(figures)) process.stdout.write(`queue.${k}: ${v}\n`);
  } finally {
    await server?.stop();
  }
}
