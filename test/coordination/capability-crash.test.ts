/**
 * Capability-wide consensus and barrier when a participant's node dies with SIGKILL. Node A is a real
 * process (`fixtures/fan-out-node.ts`, mode `idle`) running the agent `v-a`; node B (this process) runs
 * `v-b1` and `v-b2`, all with the capability `fan.poll`. B finds A's process gone, marks it down, and its
 * health monitor makes `v-a` unhealthy: from then on `v-a` counts as absent.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCoordinationError } from '../../src/coordination/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore } from '../../src/store/index.js';
import { repositoryRoot as root, scratchFolder, spawnScript } from '../support/child.js';
import { adapters, type TestAdapter } from '../support/stores.js';
import { pollAgent } from './fixtures/fan-out-work.js';

const NODE = join(root, 'test', 'coordination', 'fixtures', 'fan-out-node.ts');

describe.each(adapters)(
  'capability-wide rounds when a participant’s node dies on $name',
  (adapter: TestAdapter) => {
    it(
      'a participant’s node killed with SIGKILL: the barrier opens without it and the vote closes with no_quorum',
      { timeout: 180_000 },
      async () => {
        const url = adapter.freshUrl();
        const dir = scratchFolder('garrison-capability-');
        const work = { ledger: join(dir, 'ledger.jsonl'), gateDir: dir, hold: false };
        const store = await openStore(url);
        let b: GarrisonNode | undefined;
        try {
          b = await startNode({ store, nodeName: 'B', agents: [pollAgent(work)] });
          const node = b;
          await node.agents.start(pollAgent(work), { id: 'v-b1' });
          await node.agents.start(pollAgent(work), { id: 'v-b2' });
          const child = spawnScript(NODE, [url, 'A', work.ledger, dir, 'idle']);
          await child.line('ready');
          const coord = node.coordination.capability!;
          const barrier = await coord.barrier('fan.poll', 'phase-2');
          expect(barrier.participants).toEqual(['v-a', 'v-b1', 'v-b2']);
          const vote = await coord.propose('fan.poll', 'release', {
            options: ['yes', 'no'],
            quorum: 3,
            timeoutMs: 600_000,
            id: 'release',
          });
          expect(vote.voters).toEqual(['v-a', 'v-b1', 'v-b2']);
          await coord.arrive('phase-2', 'v-b1');
          await coord.arrive('phase-2', 'v-b2');
          await coord.vote('release', 'v-b1', 'yes');
          await coord.vote('release', 'v-b2', 'yes');
          expect(await coord.barrierStatus('phase-2')).toMatchObject({ released: false, absent: [] });
          const opened = coord.wait('phase-2', { timeoutMs: 120_000 });
          const decided = coord.awaitDecision('release').catch((e: unknown) => e);
          expect((await child.kill()).signal).toBe('SIGKILL');
          expect(await opened).toMatchObject({ released: true, absent: ['v-a'] });
          const error = await decided;
          expect(isCoordinationError(error, 'no_quorum')).toBe(true);
          expect(await coord.result('release')).toMatchObject({ status: 'no_quorum', absent: ['v-a'] });
        } finally {
          await b?.stop();
          await store.close();
        }
      },
    );
  },
);
