import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { repositoryRoot, spawnScript } from '../../support/child.js';
import { adapters } from '../../support/stores.js';

const WORKFLOWS = 60;
const KILLS = 5;

interface Worker {
  readonly child: ChildProcess;
  /** Resolves once it is loaded and waits to be released. */
  readonly loaded: Promise<void>;
  /** Lets it begin: open the store, resume and start the runs. */
  release(): void;
  running(): boolean;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/**
 * A worker started ahead of time: it loads and waits until released. A start-up takes seconds on a busy
 * machine; the test pays it for every life at once, before the work begins.
 */
function startWorker(url: string): Worker {
  const script = join(repositoryRoot, 'test', 'work', 'workflow', 'fixtures', 'crash-worker.ts');
  const child = spawnScript(script, [url, WORKFLOWS, 'gated'], { stdin: true });
  return {
    child: child.process,
    loaded: child.waitFor('loaded', 'stdout').then(() => undefined),
    release: () => child.process.stdin!.write('go\n'),
    running: () => child.running(),
    // Never rejects: a worker that ends first is judged by its exit.
    ready: child.waitFor('ready', 'stdout').then(
      () => undefined,
      () => undefined,
    ),
    exited: child.exited.then(({ code, signal, stdout, stderr }) => ({
      code,
      signal,
      output: stdout + stderr,
    })),
  };
}

async function journaledSteps(store: Store): Promise<number> {
  const rows = await store.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_steps WHERE status = 'completed'",
  );
  return Number(rows[0]?.n ?? 0);
}

async function completed(store: Store): Promise<number> {
  const rows = await store.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
  );
  return Number(rows[0]?.n ?? 0);
}

describe.each(adapters)('workflows under SIGKILL on $name', (adapter) => {
  let store: Store | undefined;
  let worker: Worker | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it(
    'every workflow completes with exactly one journaled result and one ledger entry per step',
    // Six processes load before the work begins: seconds each on a busy machine.
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      store = await openStore(url);
      const lives = Array.from({ length: KILLS + 1 }, () => startWorker(url));
      await Promise.all(lives.map((w) => w.loaded));
      const completedAfterKill: number[] = [];
      for (const life of lives.slice(0, KILLS)) {
        worker = life;
        const before = await journaledSteps(store);
        worker.release();
        await Promise.race([worker.ready, worker.exited]);
        // A random moment in the worker's life, measured in its progress (not in time, which a busy
        // machine stretches): after 10 to 40 more journaled steps, while other steps are in flight. The
        // five lives journal 50 to 200 of the 300 steps: more than the ~8 runs in flight at once can hold
        // without one completing, fewer than all.
        const wanted = 10 + Math.floor(Math.random() * 31);
        while (worker.running() && (await journaledSteps(store)) < before + wanted) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        worker.child.kill('SIGKILL');
        const { signal, output } = await worker.exited;
        expect(signal === 'SIGKILL' || output.includes('done'), output).toBe(true);
        completedAfterKill.push(await completed(store));
      }
      // Progress survived the kills, and at least one kill struck in the middle of the work.
      expect([...completedAfterKill].sort((a, b) => a - b)).toEqual(completedAfterKill);
      expect(
        completedAfterKill.some((n) => n > 0 && n < WORKFLOWS),
        String(completedAfterKill),
      ).toBe(true);
      worker = lives[KILLS]!;
      worker.release();
      const last = await worker.exited;
      expect(last.code, last.output).toBe(0);
      expect(last.output).toContain('done');

      const runs = await store.query<{ status: string; n: number }>(
        "SELECT status, COUNT(*) AS n FROM garrison_workflow_runs WHERE name = 'five-steps' GROUP BY status",
      );
      expect(runs.map((r) => [r.status, Number(r.n)])).toEqual([['completed', WORKFLOWS]]);
      const steps = await store.query<{ run_id: string; idx: number; status: string }>(
        'SELECT run_id, idx, status FROM garrison_workflow_steps ORDER BY run_id, idx',
      );
      expect(steps).toHaveLength(WORKFLOWS * 5);
      expect(new Set(steps.map((s) => `${s.run_id}:${s.idx}`)).size).toBe(WORKFLOWS * 5);
      expect(steps.every((s) => s.status === 'completed')).toBe(true);
      const effects = await store.query<{ effect_key: string }>('SELECT effect_key FROM effects');
      expect(effects).toHaveLength(WORKFLOWS * 5);
      expect(new Set(effects.map((e) => e.effect_key))).toEqual(
        new Set(steps.map((s) => `${s.run_id}:${s.idx}`)),
      );
    },
  );
});
