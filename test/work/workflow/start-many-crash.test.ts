/**
 * A batch is in the store whole or not at all: a process starting batches with `startMany` (through the
 * engine, and through a client) is killed with SIGKILL while it writes them; every batch is then found
 * complete or absent, never in part.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { adapters } from '../../support/stores.js';

const root = join(import.meta.dirname, '..', '..', '..');
const SIZE = 1500;

interface Batcher {
  readonly child: ChildProcess;
  /** Resolves once the process reports `committed <k>`. */
  committed(k: number): Promise<void>;
  readonly exited: Promise<{ signal: NodeJS.Signals | null; output: string }>;
}

function startBatcher(url: string, via: 'engine' | 'client'): Batcher {
  const loader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const script = join(root, 'test', 'work', 'workflow', 'fixtures', 'start-many-batches.ts');
  const child = spawn(process.execPath, ['--import', loader, script, url, via, String(SIZE)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiting: Array<{ k: number; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiting]) {
      if (output.includes(`committed ${w.k}\n`)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    check();
  });
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('close', (_code, signal) => resolve({ signal, output })),
  );
  return {
    child,
    exited,
    committed: (k) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiting.push({ k, resolve });
          check();
        }),
        exited.then((e) => {
          throw new Error(`the batcher exited before committing batch ${k}:\n${e.output}`);
        }),
      ]),
  };
}

describe.each(adapters)('startMany under SIGKILL on $name', (adapter) => {
  let store: Store | undefined;
  let batcher: Batcher | undefined;
  afterEach(async () => {
    batcher?.child.kill('SIGKILL');
    await batcher?.exited;
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
