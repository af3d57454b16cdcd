/**
 * The project's side of the peer benchmark (`../shared/bench/peers/README.md`):
 *
 *   npm run --silent bench:peers -- --workload jobs --url <empty database> --jobs N --latency-jobs M
 *   npm run --silent bench:peers -- --workload workflows --url <empty database> --workflows W \
 *     --latency-runs R --concurrency C
 *
 * runs the workload through Garrison's public API on that database and prints one JSON line last.
 * Exits non-zero on any error.
 */
import { openStore } from '../src/store/index.js';
import { runWorkflowsWorkload } from './peers-workflows.js';
import { runJobsWorkload } from './queue.bench.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function count(name: string, fallback: number): number {
  const raw = arg(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const workload = arg('workload') ?? 'jobs';
  const url = arg('url') ?? process.env.DATABASE_URL;
  if (workload !== 'jobs' && workload !== 'workflows') {
    throw new Error(`unknown --workload "${workload}" (expected jobs or workflows)`);
  }
  if (url === undefined || url === '') throw new Error('--url <postgres database URL> is required');
  if (workload === 'workflows') {
    const result = await runWorkflowsWorkload({
      url,
      workflows: count('workflows', 2_000),
      latencyRuns: count('latency-runs', 200),
      concurrency: count('concurrency', 32),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const jobs = count('jobs', 20_000);
  const latencyJobs = count('latency-jobs', 300);
  const store = await openStore(url);
  try {
    const r = await runJobsWorkload({
      store,
      jobs,
      latencyJobs,
      handoff: !process.argv.includes('--no-handoff'),
    });
    process.stdout.write(`${JSON.stringify({ system: 'garrison', jobs, ...r })}\n`);
  } finally {
    await store.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench:peers failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
