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
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

function startWorker(url: string): Worker {
  const script = join(repositoryRoot, 'test', 'work', 'workflow', 'fixtures', 'crash-worker.ts');
  const child = spawnScript(script, [url, WORKFLOWS]);
  return {
    child: child.process,
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

  it('every workflow completes with exactly one journaled result and one ledger entry per step', async () => {
    const url = adapter.freshUrl();
    store = await openStore(url);
    const completedAfterKill: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      worker = startWorker(url);
      await Promise.race([worker.ready, worker.exited]);
      // A random moment in the worker's life: chaos, not a timed assertion.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
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
    worker = startWorker(url);
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
  });
});
