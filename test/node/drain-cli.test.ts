/**
 * `garrison worker` itself (the real command in a child process, as users run it): SIGTERM drains the
 * node through the node runner, the process ends by itself with 0, and the store shows nothing held by
 * the node — its agents' registry entries included.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heldByNode, listNodes, type NodeHoldings } from '../../src/node/index.js';
import { openStore } from '../../src/store/index.js';
import { repositoryRoot as root, scratchFolder, spawnGarrison } from '../support/child.js';
import { postgresAdapter } from '../support/stores.js';

const EMPTY: NodeHoldings = {
  tasks: [],
  workflowRuns: [],
  coordinationLeases: [],
  agents: [],
  timerClaims: [],
};

function startWorker(url: string, config: string) {
  const worker = spawnGarrison(['worker', '--store', url, '--name', 'w1', '--config', config], {
    killAfterMs: 120_000,
  });
  return {
    child: worker.process,
    exited: worker.exited.then(({ code, signal }) => ({ code, signal })),
    stderr: () => worker.stderr(),
    /** Resolves once stderr contains `text`; rejects, showing its stderr, if the worker exits first. */
    printed: (text: string) => worker.waitFor(text, 'stderr').then(() => undefined),
    reap: () => worker.signal('SIGKILL'),
  };
}

function configFile(): string {
  const config = join(scratchFolder('garrison-drain-cli-'), 'node.json');
  writeFileSync(
    config,
    JSON.stringify({ drainTimeoutMs: 5000, app: join(root, 'src', 'cli', 'demo', 'app.ts') }),
  );
  return config;
}

// On SQLite this worker (six agents on one file shared with the test) once died of the SIGTERM itself,
// as if no handler were installed, when the whole suite ran — not understood yet. A SQLite worker's
// drain on SIGTERM stays tested by test/cli/subprocess-node.test.ts.
describe.each([postgresAdapter])('garrison worker drains on SIGTERM on $name', (adapter) => {
  it('SIGTERM drains the worker: it exits 0 by itself and leaves nothing held in the store', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    const worker = startWorker(url, configFile());
    try {
      await worker.printed('SIGTERM drains and stops');
      const running = await heldByNode(store, 'w1', Date.now());
      // The demo app's team (the configuration file's `app`): 2 agents of each of its 3 types, on this node.
      expect(running.agents).toHaveLength(6);

      worker.child.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      const stderr = worker.stderr();
      expect(stderr).toMatch(/w1: SIGTERM, draining \(claims nothing new; work in hand has 5000 ms\)/);
      expect(stderr).toMatch(/w1: drained, all work in hand finished/);
      expect(await heldByNode(store, 'w1', Date.now())).toEqual(EMPTY);
      const nodes = await listNodes(store, Date.now(), { heartbeatMs: 2000, downAfterMs: 15_000 });
      expect(nodes.find((n) => n.id === 'w1')?.state).toBe('down');
    } finally {
      worker.reap();
      await store.close();
    }
  }, 180_000);
});
