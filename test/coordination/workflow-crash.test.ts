/**
 * Real processes, real SIGKILL: 200 workflows of five steps executed by worker processes running a
 * WorkflowSupervisor, killed at random moments and restarted. Afterwards every workflow has completed,
 * every journaled step has exactly one committed result, and the ledger of external effects, deduplicated
 * by idempotency key, has exactly one entry per step.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { repositoryRoot, scratchFolder, spawnScript, type Child } from '../support/child.js';
import { postgresAdapter, sqliteAdapter } from '../support/stores.js';

const WORKFLOWS = 200;
const STEPS = 5;
const KILLS = 10;

interface Entry {
  readonly e: 'ready' | 'start' | 'effect' | 'error' | 'stopped';
  readonly pid: number;
  readonly t: number;
  readonly k?: string;
  readonly message?: string;
}

interface WorkerConfig {
  readonly node: string;
  readonly maxRunning: number;
  readonly leaseMs: number;
  readonly scanMs: number;
  readonly stepMs: readonly [number, number];
}

function readLedger(path: string): Entry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Entry);
}

/** Checks after every few ms of real time (child processes work in real time); gives up after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened within ${ms} ms: ${what}`);
}

/** The 200 runs, made durable `pending` before any worker exists (a plain engine that executes nothing). */
async function startRuns(store: Store): Promise<void> {
  const fiveSteps = defineWorkflow('five-steps', async (_ctx, n: number) => n);
  const engine = createWorkflowEngine({ store, nodeId: 'starter', autoExecute: false });
  engine.register(fiveSteps);
  await Promise.all(
    Array.from({ length: WORKFLOWS }, (_, n) =>
      engine.start(fiveSteps, n, { workflowId: `crash-${String(n).padStart(3, '0')}` }),
    ),
  );
  await engine.stop();
}

async function completedCount(store: Store): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
  );
  return Number(rows[0]?.n ?? 0);
}

/** What every crash test checks in the end: the store and the ledger. */
async function checkOutcome(store: Store, ledger: string): Promise<{ effects: number }> {
  const runs = await store.query<{ id: string; status: string; output: string }>(
    'SELECT id, status, output FROM garrison_workflow_runs ORDER BY id',
  );
  expect(runs).toHaveLength(WORKFLOWS);
  for (const [n, run] of runs.entries()) {
    expect(run.status, run.id).toBe('completed');
    expect(JSON.parse(run.output), run.id).toBe(STEPS * n + 10);
  }
  // One committed result per journaled step: the rows are unique by (run, index), all completed, and
  // every run has exactly its five.
  const steps = await store.query<{ run_id: string; idx: number; status: string; output: string }>(
    'SELECT run_id, idx, status, output FROM garrison_workflow_steps ORDER BY run_id, idx',
  );
  expect(steps).toHaveLength(WORKFLOWS * STEPS);
  const keys = steps.map((s) => `${s.run_id}:${s.idx}`);
  expect(new Set(keys).size).toBe(WORKFLOWS * STEPS);
  expect(steps.every((s) => s.status === 'completed')).toBe(true);
  for (const s of steps) expect(Number(s.idx)).toBeLessThan(STEPS);

  const entries = readLedger(ledger);
  expect(entries.filter((e) => e.e === 'error')).toEqual([]);
  const effects = entries.filter((e) => e.e === 'effect').map((e) => e.k!);
  // Deduplicated by idempotency key: exactly one entry per journaled step, and nothing else.
  expect(new Set(effects)).toEqual(new Set(keys));
  return { effects: effects.length };
}

describe('workflow supervisor under SIGKILL', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  /** A ledger in a folder removed after the test, once its workers are reaped. */
  function ledgerFile(): string {
    return join(scratchFolder('garrison-wf-crash-'), 'ledger.jsonl');
  }

  /**
   * A worker started ahead of time: it loads and waits, and begins (opens the store, claims) only when
   * released. On a busy machine a start takes seconds, during which the other workers keep working; the
   * tests pay it before the work begins, so every kill finds work left however slow the start-up is.
   */
  interface GatedWorker {
    readonly child: Child;
    /** Resolves once the worker is loaded and waits to be released. */
    readonly loaded: Promise<unknown>;
    /** Lets it begin. */
    release(): void;
  }

  function startGated(url: string, ledger: string, config: WorkerConfig): GatedWorker {
    const script = join(repositoryRoot, 'test', 'coordination', 'fixtures', 'workflow-crash-worker.ts');
    const args = [config.node, config.maxRunning, config.leaseMs, config.scanMs, ...config.stepMs, 'gated'];
    const child = spawnScript(script, [url, ledger, ...args], { echo: 'worker', stdin: true });
    return {
      child,
      loaded: child.line('loaded'),
      release: () => child.process.stdin!.write('go\n'),
    };
  }

  /** Waits until `child` is ready and has started a random number of steps, then kills it. */
  async function killAtRandom(
    child: Child,
    ledger: string,
    store: Store,
    maxStarts: number,
  ): Promise<boolean> {
    const pid = child.pid;
    const mine = (e: Entry) => e.pid === pid;
    await eventually(
      () => readLedger(ledger).some((e) => mine(e) && e.e === 'ready'),
      `${pid} is ready`,
      20_000,
    );
    const wanted = 1 + Math.floor(Math.random() * maxStarts);
    let finished = false;
    await eventually(
      async () => {
        const starts = readLedger(ledger).filter((e) => mine(e) && e.e === 'start').length;
        finished = (await completedCount(store)) === WORKFLOWS;
        return starts >= wanted || finished;
      },
      `${pid} starts ${wanted} steps`,
      20_000,
    );
    if (finished) return false;
    await child.kill();
    return true;
  }

  it(
    'SQLite: a worker killed with SIGKILL ten times mid-work and restarted completes all 200 workflows, each step journaled and effected once',
    // Eleven processes load before the work begins: seconds each on a busy machine.
    { timeout: 240_000 },
    async () => {
      const url = sqliteAdapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      await startRuns(store);
      const ledger = ledgerFile();
      // The same node after each restart: it resumes its own runs at once.
      const config: WorkerConfig = {
        node: 'crash-node',
        maxRunning: 8,
        leaseMs: 30_000,
        scanMs: 30_000,
        stepMs: [5, 25],
      };
      const progress: number[] = [];
      // Every life is loaded before the first begins: a life is short, a start-up on a busy machine is
      // seconds, and loading them together gets them a larger share of the machine than one after another.
      const lives = Array.from({ length: KILLS + 1 }, () => startGated(url, ledger, config));
      await Promise.all(lives.map((w) => w.loaded));
      for (const worker of lives.slice(0, KILLS)) {
        worker.release();
        if (!(await killAtRandom(worker.child, ledger, store, 60))) break;
        progress.push(await completedCount(store));
      }
      expect(progress).toHaveLength(KILLS);
      // Work survived every kill, and every kill struck with work left.
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      expect(progress[KILLS - 1]).toBeLessThan(WORKFLOWS);

      const final = lives[KILLS]!;
      final.release();
      const last = final.child;
      await eventually(
        async () => (await completedCount(store)) === WORKFLOWS,
        'every workflow completes',
        60_000,
      );
      // Ready first: a SIGTERM before its handler is installed would end it by the signal.
      await eventually(
        () => readLedger(ledger).some((e) => e.pid === last.pid && e.e === 'ready'),
        `${last.pid} is ready`,
        20_000,
      );
      last.signal('SIGTERM');
      expect((await last.exited).code).toBe(0);

      const { effects } = await checkOutcome(store, ledger);
      // At least once: a step killed between its effect and its commit ran again (same key).
      expect(effects).toBeGreaterThanOrEqual(WORKFLOWS * STEPS);
    },
  );

  it(
    'PostgreSQL: three workers, one killed with SIGKILL ten times: all 200 workflows complete, each step journaled and effected once, never run by two live workers at once',
    // Thirteen processes load before the work begins: seconds each on a busy machine.
    { timeout: 240_000 },
    async () => {
      const url = postgresAdapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      await startRuns(store);
      const ledger = ledgerFile();
      const base = { maxRunning: 4, leaseMs: 3000, scanMs: 250, stepMs: [100, 220] as const };
      // Every process is loaded before any begins: the steady workers would otherwise finish the work
      // while the victims are still starting.
      const steady = [
        startGated(url, ledger, { ...base, node: 'steady-a' }),
        startGated(url, ledger, { ...base, node: 'steady-b' }),
      ];
      // A new node id each life: its runs wait for their lease to expire, then any node takes them.
      const victims = Array.from({ length: KILLS }, (_, n) =>
        startGated(url, ledger, { ...base, node: `victim-${n + 1}` }),
      );
      const final = startGated(url, ledger, { ...base, node: 'victim-last' });
      await Promise.all([...steady, ...victims, final].map((w) => w.loaded));
      for (const w of steady) w.release();

      const killedAt = new Map<number, number>();
      for (const victim of victims) {
        victim.release();
        if (!(await killAtRandom(victim.child, ledger, store, 8))) break;
        killedAt.set(victim.child.pid, Date.now());
      }
      expect(killedAt.size).toBe(KILLS);
      expect(await completedCount(store)).toBeLessThan(WORKFLOWS);
      final.release();
      const last = final.child;
      await eventually(
        async () => (await completedCount(store)) === WORKFLOWS,
        'every workflow completes',
        60_000,
      );
      const workers = [...steady.map((w) => w.child), last];
      // Ready first: a SIGTERM before its handler is installed would end it by the signal.
      await eventually(
        () => workers.every((w) => readLedger(ledger).some((e) => e.pid === w.pid && e.e === 'ready')),
        'the remaining workers are ready',
        20_000,
      );
      for (const w of workers) w.signal('SIGTERM');
      const exits = await Promise.all(workers.map((w) => w.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);

      await checkOutcome(store, ledger);
      // No step ran in two live processes at once: a later execution of a step starts only after the
      // earlier one ended (its effect line) or its process was killed.
      const entries = readLedger(ledger);
      const runsOf = new Map<string, Array<{ pid: number; from: number; to: number }>>();
      for (const start of entries.filter((e) => e.e === 'start')) {
        const end = entries.find(
          (e) => e.e === 'effect' && e.k === start.k && e.pid === start.pid && e.t >= start.t,
        );
        const list = runsOf.get(start.k!) ?? [];
        list.push({ pid: start.pid, from: start.t, to: end?.t ?? killedAt.get(start.pid) ?? Infinity });
        runsOf.set(start.k!, list);
      }
      let taken = 0;
      for (const list of runsOf.values()) {
        list.sort((a, b) => a.from - b.from);
        for (let i = 1; i < list.length; i++) expect(list[i]!.from).toBeGreaterThanOrEqual(list[i - 1]!.to);
        if (new Set(list.map((r) => r.pid)).size > 1) taken++;
      }
      // Steps interrupted by a kill were taken over by another process.
      expect(taken).toBeGreaterThanOrEqual(1);
    },
  );
});
