/**
 * Wake-up latency across processes: a node in this process (its own scans and lease ticks ten minutes
 * apart, so only wake-ups count), a client in a child process that starts runs one at a time and
 * signals each once it waits. Figures: from the client's `start` call to the run's first step running,
 * and from its `signal` call to the step after the wait running, p50/p99 in ms, on SQLite (a file; the
 * node polls PRAGMA data_version) and PostgreSQL (LISTEN/NOTIFY). `…Wake…` figures count from the
 * client's call returning (its write committed) instead: the node's part alone.
 *
 *   npm run bench -- --only client-latency
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startNode } from '../src/node/index.js';
import { openStore } from '../src/store/index.js';
import { afterSignalAt, firstStepAt, latencyProbe } from './client-latency-probe.js';
import { latencySummary } from './peers-workflows.js';

export interface BenchContext {
  readonly postgresUrl: string;
}

const RUNS = 200;
const here = import.meta.dirname;

interface Sample {
  readonly id: string;
  readonly startAt: number;
  readonly startedAt: number;
  readonly signalAt: number;
  readonly signalledAt: number;
}

/** Runs the client child to its end; its samples. */
function client(url: string, count: number): Promise<Sample[]> {
  const loader = pathToFileURL(join(here, '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const child = spawn(
    process.execPath,
    ['--import', loader, join(here, 'client-latency-child.ts'), url, String(count)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the client exited with ${String(code)}:\n${err}`));
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Sample & { done?: boolean });
      resolve(lines.filter((l) => l.done !== true));
    });
  });
}

async function measure(url: string): Promise<Record<string, number>> {
  const store = await openStore(url);
  const node = await startNode({
    store,
    nodeName: 'latency-node',
    config: { workflows: { leaseMs: 600_000 } },
    workflows: [latencyProbe],
  });
  try {
    await client(url, 20); // warm-up: both processes' code paths and statement caches
    const samples = await client(url, RUNS);
    const starts = samples.map((s) => (firstStepAt.get(s.id) ?? NaN) - s.startAt);
    const signals = samples.map((s) => (afterSignalAt.get(s.id) ?? NaN) - s.signalAt);
    const start = latencySummary(starts);
    const signal = latencySummary(signals);
    // The node's part: from the client's commit (its call returned) to the step running.
    const startWake = latencySummary(samples.map((s) => (firstStepAt.get(s.id) ?? NaN) - s.startedAt));
    const signalWake = latencySummary(samples.map((s) => (afterSignalAt.get(s.id) ?? NaN) - s.signalledAt));
    return {
      startP50Ms: start.p50 ?? NaN,
      startP99Ms: start.p99 ?? NaN,
      startMaxMs: start.max ?? NaN,
      signalP50Ms: signal.p50 ?? NaN,
      signalP99Ms: signal.p99 ?? NaN,
      signalMaxMs: signal.max ?? NaN,
      startWakeP50Ms: startWake.p50 ?? NaN,
      startWakeP99Ms: startWake.p99 ?? NaN,
      signalWakeP50Ms: signalWake.p50 ?? NaN,
      signalWakeP99Ms: signalWake.p99 ?? NaN,
    };
  } finally {
    await node.stop();
    await store.close();
  }
}

export async function run(context: BenchContext): Promise<Record<string, number>> {
  const folder = mkdtempSync(join(tmpdir(), 'garrison-bench-client-'));
  const figures: Record<string, number> = {};
  try {
    for (const [k, v] of Object.entries(await measure(`sqlite:${join(folder, 'bench.db')}`))) {
      figures[`sqlite${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const url = new URL(context.postgresUrl);
  url.searchParams.set('schema', `bench_client_${randomBytes(4).toString('hex')}`);
  for (const [k, v] of Object.entries(await measure(url.toString()))) {
    figures[`postgres${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
  }
  return figures;
}
