import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteStore, openStore } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { dumpRegistry, type RegistryDump } from './support/dump.js';
import { openRegistryAt } from './support/fixtures.js';
import { STEPS, runSteps, seed } from './support/scenario.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Starts the crash child on `url`, waits until it reports being at `point`, kills it with SIGKILL and
 * waits for it to be gone.
 */
async function killChildAt(url: string, point: string): Promise<void> {
  const loader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const script = join(root, 'test', 'registry', 'crash-child.ts');
  const child = spawn(process.execPath, ['--import', loader, script, url, point], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve(signal));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(`at ${point}\n`)) resolve();
    });
    child.on('exit', (code) =>
      reject(new Error(`the child exited (${code}) before reaching ${point}: ${stdout}${stderr}`)),
    );
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

/** The registry's dump after the scenario's transaction has committed, computed on a fresh database. */
async function expectedAfter(url: string): Promise<RegistryDump> {
  const reference = await openRegistryAt(url);
  try {
    await seed(reference.registry);
    await reference.registry.transaction((tx) => runSteps(tx));
    return await dumpRegistry(reference.store);
  } finally {
    await reference.store.close();
  }
}

const INSIDE = [...STEPS.map((_, i) => `step-${i}`), 'before-commit'];

describe.each(adapters)('registry crash on $name', (adapter) => {
  it(
    `a process killed (SIGKILL) inside the transaction at any of its ${INSIDE.length} points leaves exactly the ` +
      'before-state; killed after COMMIT, exactly the after-state',
    async () => {
      const after = await expectedAfter(adapter.freshUrl());
      for (const point of [...INSIDE, 'after-commit']) {
        const url = adapter.freshUrl();
        const setup = await openRegistryAt(url);
        await seed(setup.registry);
        const before = await dumpRegistry(setup.store);
        await setup.store.close();
        expect(before.hash).not.toBe(after.hash);

        await killChildAt(url, point);

        const reopened = await openStore(url);
        try {
          const state = await dumpRegistry(reopened);
          expect([before.text, after.text], `killed at ${point}`).toContain(state.text);
          expect(state.text, `killed at ${point}`).toBe(point === 'after-commit' ? after.text : before.text);
          if (reopened instanceof SqliteStore) expect(reopened.integrityCheck()).toBe('ok');
        } finally {
          await reopened.close();
        }
      }
    },
  );
});
