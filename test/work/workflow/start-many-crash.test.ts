/**
 * A batch is in the store whole or not at all: a process starting batches with `startMany` (through the
 * engine, and through a client) is killed with SIGKILL while it writes them; every batch is then found
 * complete or absent, never in part.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { repositoryRoot, spawnScript } from '../../support/child.js';
import { adapters } from '../../support/stores.js';

const SIZE = 1500;

interface Batcher {
  readonly child: ChildProcess;
  /** Resolves once the process reports `committed <k>`. */
  committed(k: number): Promise<void>;
  readonly exited: Promise<{ signal: NodeJS.Signals | null; output: string }>;
}

function startBatcher(url: string, via: 'engine' | 'client'): Batcher {
  const script = join(repositoryRoot, 'test', 'work', 'workflow', 'fixtures', 'start-many-batches.ts');
  const child = spawnScript(script, [url, via, SIZE]);
  return {
    child: child.process,
    exited: child.exited.then(({ signal, stdout, stderr }) => ({ signal, output: stdout + stderr })),
    /** Rejects, showing the batcher's output, if it exits before committing batch `k`. */
    committed: (k) => child.waitFor(`committed ${k}\n`, 'stdout').then(() => undefined),
  };
}

describe.each(adapters)('startMany under SIGKILL on $name', (adapter) => {
  let store: Store | undefined;
  let batcher: Batcher | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it.each(['engine', 'client'] as const)('through the %s, every batch is whole or absent', async (via) => {
    const url = adapter.freshUrl();
    store = await openStore(url);
    batcher = startBatcher(url, via);
    await batcher.committed(1);
    // A random moment while later batches are written: chaos, not a timed assertion.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
    batcher.child.kill('SIGKILL');
    const { signal, output } = await batcher.exited;
    expect(signal, output).toBe('SIGKILL');
    const reported = [...output.matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
    const rows = await store.query<{ id: string }>('SELECT id FROM garrison_workflow_runs');
    const perBatch = new Map<string, number>();
    for (const { id } of rows) {
      const batch = id.split('-')[0] ?? '';
      perBatch.set(batch, (perBatch.get(batch) ?? 0) + 1);
    }
    for (const [batch, n] of perBatch) expect(n, `batch ${batch}`).toBe(SIZE);
    // Every batch acknowledged is there, and batches are written in order.
    for (const k of reported) expect(perBatch.get(`b${k}`), `batch b${k}`).toBe(SIZE);
    expect([...perBatch.keys()].sort()).toEqual(
      Array.from({ length: perBatch.size }, (_, k) => `b${k}`).sort(),
    );
  });
});
