/**
 * A fan-out (`ctx.dispatchAll`) across nodes that die with SIGKILL. Node A is a real process
 * (`fixtures/fan-out-node.ts`) running the agent `v-a`; node B (this process) runs `v-b1` and `v-b2`.
 * Leases are 10 minutes, far longer than a test: what resumes was taken over by B's recovery (A's process
 * gone on this host), not expired.
 *
 * - A holds the run too: B takes the run over and completes it from its journal with the participants A
 *   journaled; A's part fails with `agent_unavailable`, B's agents' answers are gathered, each part
 *   journaled once.
 * - B holds the run, A is only an agent's node: A's part fails with `agent_unavailable` and the quorum
 *   rule applies — three needed, so the fan-out fails with `quorum_not_met` at once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore } from '../../src/store/index.js';
import { repositoryRoot as root, scratchFolder, spawnScript } from '../support/child.js';
import { adapters, type TestAdapter } from '../support/stores.js';
import { fanFlow, pollAgent, readFanLedger } from './fixtures/fan-out-work.js';

const LEASE_MS = 600_000;
const leases = { tasks: { leaseMs: LEASE_MS }, workflows: { leaseMs: LEASE_MS } };
const NODE = join(root, 'test', 'coordination', 'fixtures', 'fan-out-node.ts');

/** Waits for a condition with real I/O in between; fails with `what` when it never holds. */
async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 120_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(adapters)('fan-out across killed nodes on $name', (adapter: TestAdapter) => {
  it(
    'the workflow’s node, also an agent’s, killed with SIGKILL mid fan-out: another node completes the run with the journaled participants, the dead agent counted absent',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const dir = scratchFolder('garrison-fan-out-');
      const ledger = join(dir, 'ledger.jsonl');
      const work = { ledger, gateDir: dir, hold: false };
      const store = await openStore(url);
      let b: GarrisonNode | undefined;
      try {
        b = await startNode({ store, nodeName: 'B', config: leases, agents: [pollAgent(work)] });
        const node = b;
        await node.agents.start(pollAgent(work), { id: 'v-b1' });
        await node.agents.start(pollAgent(work), { id: 'v-b2' });
        const child = spawnScript(NODE, [url, 'A', ledger, dir, 'run']);
        await child.line('ready');
        await until(
          () => readFanLedger(ledger).filter((l) => l.e === 'start').length === 3,
          'three parts started',
        );
        // Known here only once A holds the run: B could not have claimed it before the kill.
        node.workflowSupervisor.register(fanFlow(work));
        expect((await child.kill()).signal).toBe('SIGKILL');
        writeFileSync(join(dir, 'go'), '');
        await until(async () => (await node.workflows.get('fan'))?.status === 'completed', 'the run on B');
        const run = await node.workflows.get('fan');
        expect(run?.output).toMatchObject([
          { agent: 'v-a', ok: false, error: { code: 'agent_unavailable' } },
          { agent: 'v-b1', ok: true, value: { by: 'v-b1' } },
          { agent: 'v-b2', ok: true, value: { by: 'v-b2' } },
        ]);
        const done = readFanLedger(ledger).filter((l) => l.e === 'done');
        expect(done.map((l) => l.by).sort()).toEqual(['v-b1', 'v-b2']);
        const steps = await node.workflows.steps('fan');
        expect(steps.filter((s) => s.kind === 'dispatch').map((s) => [s.name, s.status])).toEqual([
          ['fan.poll.poll@v-a', 'failed'],
          ['fan.poll.poll@v-b1', 'completed'],
          ['fan.poll.poll@v-b2', 'completed'],
        ]);
      } finally {
        writeFileSync(join(dir, 'go'), '');
        await b?.stop();
        await store.close();
      }
    },
  );

  it(
    'an agent’s node killed with SIGKILL while the workflow waits elsewhere: its agent counts as absent and the quorum rule applies (quorum_not_met)',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const dir = scratchFolder('garrison-fan-out-');
      const ledger = join(dir, 'ledger.jsonl');
      const work = { ledger, gateDir: dir, hold: false };
      const store = await openStore(url);
      let b: GarrisonNode | undefined;
      try {
        b = await startNode({
          store,
          nodeName: 'B',
          config: leases,
          agents: [pollAgent(work)],
          workflows: [fanFlow(work)],
        });
        const node = b;
        await node.agents.start(pollAgent(work), { id: 'v-b1' });
        await node.agents.start(pollAgent(work), { id: 'v-b2' });
        const child = spawnScript(NODE, [url, 'A', ledger, dir, 'agent-only']);
        await child.line('started');
        await node.workflows.start('fan.crash', { quorum: 3 }, { workflowId: 'fan' });
        await child.line('ready');
        expect((await child.kill()).signal).toBe('SIGKILL');
        await until(async () => (await node.workflows.get('fan'))?.status === 'failed', 'the run to fail');
        const run = await node.workflows.get('fan');
        expect(run?.error?.code).toBe('quorum_not_met');
        expect(run?.error?.details?.failures).toMatchObject({ 'v-a': { code: 'agent_unavailable' } });
        expect(run?.error?.details?.participants).toEqual(['v-a', 'v-b1', 'v-b2']);
      } finally {
        writeFileSync(join(dir, 'go'), '');
        await b?.stop();
        await store.close();
      }
    },
  );
});
