/**
 * Recovery after `kill -9`: a node (a child process, `recovery-child.ts`) executes many runs of three
 * short steps, 64 at once; once a share of them has completed it gets SIGKILL with runs in the middle of
 * a step, under the default 30 s run lease. A node of the same host under a new name then starts (in
 * this process) and takes the dead node's work over (docs/node.md, "Recovery"). Figures, per store:
 *
 * - `firstResumedStepMs`: from `startNode` to the first step of a run the dead node held (`startNodeMs`:
 *   until `startNode` resolved, the takeover included);
 * - `allDoneSeconds` and `recoveredRunsPerSec`: from `startNode` until every run has completed, and the
 *   runs left at the kill per second of it;
 * - `freshRunsPerSec`: the same workload on a fresh store with no kill (runs per second from
 *   `startNode` to the last), and `recoveryVsFresh`, the ratio of the two, measured in one go.
 *
 *   npm run bench -- --only recovery [--recovery-runs 10000] [--recovery-runs-pg 10000] [--recovery-kill-at 10]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '../src/node/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { createWorkflowEngine } from '../src/work/workflow/index.js';
import { recoveryFlow } from './recovery-workload.js';

export interface BenchContext {
  readonly postgresUrl: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const BATCH = 5000;
/** Runs of the warm-up. */
const WARM_UP = 200;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

async function waitFor(condition: () => Promise<boolean>, what: string, limitMs = 3_600_000): Promise<void> {
  const t0 = performance.now();
  while (!(await condition())) {
    if (performance.now() - t0 > limitMs) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function completed(store: Store): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
  );
  return Number(rows[0]?.n ?? 0);
}

/** Creates `runs` pending runs with a client engine (no node executes them yet). */
async function submit(url: string, runs: number): Promise<void> {
  const store = await openStore(url);
  const client = createWorkflowEngine({
    store,
    nodeId: 'bench-client',
    autoExecute: false,
    recoverIntervalMs: 0,
  });
  const flow = recoveryFlow();
  client.register(flow);
  try {
    for (let from = 0; from < runs; from += BATCH) {
      const items = [];
      for (let i = from; i < Math.min(runs, from + BATCH); i++)
        items.push({ workflow: flow, input: i, workflowId: `run-${String(i).padStart(6, '0')}` });
      await client.startMany(items);
    }
  } finally {
    await client.stop();
    await store.close();
  }
}

/** Runs the submitted runs on a node of this process; answers seconds from `startNode` to the last. */
async function execute(
  url: string,
  runs: number,
  name: string,
  onStep: (runId: string) => void,
): Promise<{ startedAt: number; startMs: number; seconds: number }> {
  const store = await openStore(url);
  try {
    const startedAt = performance.now();
    const node = await startNode({ store, nodeName: name, workflows: [recoveryFlow(onStep)] });
    const startMs = performance.now() - startedAt;
    try {
      await waitFor(async () => (await completed(store)) === runs, `all ${runs} runs completed`);
      return { startedAt, startMs, seconds: (performance.now() - startedAt) / 1000 };
    } finally {
      await node.stop();
    }
  } finally {
    await store.close();
  }
}

/** Starts the node to kill; resolves once it runs. */
function startChild(url: string, name: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'recovery-child.ts'), url, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('started')) resolve();
    });
    void exited.then(() => reject(new Error('the node to kill ended before it started')));
  });
  return { child, started, exited };
}

async function measure(freshUrl: () => string, runs: number, killAtPercent: number) {
  // A warm-up (code loaded and compiled), not measured: the first measurement must not pay for it.
  const warm = freshUrl();
  await submit(warm, WARM_UP);
  await execute(warm, WARM_UP, 'bench-warm', () => undefined);
  // Fresh: the same workload, no kill.
  const fresh = freshUrl();
  await submit(fresh, runs);
  const freshRun = await execute(fresh, runs, 'bench-fresh', () => undefined);
  const freshRunsPerSec = runs / freshRun.seconds;

  // Killed mid-work, then taken over by a node under a new name.
  const url = freshUrl();
  await submit(url, runs);
  const dead = startChild(url, 'bench-dead');
  const store = await openStore(url);
  let atKill: number;
  let held: Set<string>;
  try {
    await dead.started;
    // Past the share, at a moment the node holds runs (a store flush may leave none held for a while).
    const holds = async () =>
      Number(
        (
          await store.query<{ n: number | string }>(
            "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE owner = 'bench-dead' AND status = 'running'",
          )
        )[0]?.n ?? 0,
      );
    await waitFor(
      async () => (await completed(store)) >= (runs * killAtPercent) / 100 && (await holds()) >= 1,
      'the kill point',
    );
    dead.child.kill('SIGKILL');
    await dead.exited;
    atKill = await completed(store);
    const rows = await store.query<{ id: string }>(
      "SELECT id FROM garrison_workflow_runs WHERE owner = 'bench-dead' AND status IN ('running', 'sleeping', 'waiting')",
    );
    held = new Set(rows.map((r) => r.id));
  } finally {
    await store.close();
  }
  let firstResumed: number | undefined;
  const resumedRuns = new Set<string>();
  const recovered = await execute(url, runs, 'bench-new', (runId) => {
    if (!held.has(runId)) return;
    firstResumed ??= performance.now();
    resumedRuns.add(runId);
  });
  const left = runs - atKill;
  const recoveredRunsPerSec = left / recovered.seconds;
  return {
    runs,
    heldAtKill: held.size,
    completedAtKill: atKill,
    startNodeMs: recovered.startMs,
    firstResumedStepMs: firstResumed === undefined ? NaN : firstResumed - recovered.startedAt,
    heldResumed: resumedRuns.size,
    allDoneSeconds: recovered.seconds,
    recoveredRunsPerSec,
    freshSeconds: freshRun.seconds,
    freshRunsPerSec,
    recoveryVsFresh: recoveredRunsPerSec / freshRunsPerSec,
  };
}

export async function run(context: BenchContext): Promise<Record<string, number>> {
  const sqliteRuns = flag('--recovery-runs', 10_000);
  const postgresRuns = flag('--recovery-runs-pg', 10_000);
  const killAt = flag('--recovery-kill-at', 10);
  const out: Record<string, number> = {};
  const folder = mkdtempSync(join(tmpdir(), 'garrison-bench-recovery-'));
  let n = 0;
  try {
    const sqlite = await measure(() => `sqlite:${join(folder, `bench-${n++}.db`)}`, sqliteRuns, killAt);
    for (const [k, v] of Object.entries(sqlite)) out[`sqlite.${k}`] = v;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const pg = await measure(
    () => {
      const url = new URL(context.postgresUrl);
      url.searchParams.set('schema', `bench_recovery_${randomBytes(4).toString('hex')}`);
      return url.toString();
    },
    postgresRuns,
    killAt,
  );
  for (const [k, v] of Object.entries(pg)) out[`postgres.${k}`] = v;
  return out;
}
