import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore, openStore } from '../../src/store/index.js';
import { repositoryRoot, spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';
import { dumpRegistry, type RegistryDump } from './support/dump.js';
import { openRegistryAt } from './support/fixtures.js';
import { STEPS, runSteps, seed } from './support/scenario.js';

/**
 * Starts the crash child on `url`, waits until it reports being at `point`, kills it with SIGKILL and
 * waits for it to be gone.
 */
async function killChildAt(url: string, point: string): Promise<void> {
  const script = join(repositoryRoot, 'test', 'registry', 'crash-child.ts');
  // stdin keeps the child alive until it is killed.
  const child = spawnScript(script, [url, point], { stdin: true });
  await child.waitFor(`at ${point}\n`, 'stdout');
  expect((await child.kill()).signal).toBe('SIGKILL');
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
