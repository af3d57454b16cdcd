/**
 * Node B is a real process, killed with SIGKILL in the middle of a task sent from node A (this process).
 * While B is dead, A sends more work, a call and a signal: all committed in the store. B restarts and
 * runs each exactly once — the interrupted task on its second attempt — and A's call is answered. On
 * PostgreSQL both nodes poll only every 60 s and the test gives up after 30 s: every hand-off, from A to
 * B and back, is a LISTEN/NOTIFY wake-up. On SQLite (two processes on one file) the poll (200 ms)
 * carries them. Real time, real processes, no timing assertions.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentQueueName, createAgentHost } from '../../src/agents/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { createRuntime, systemClock } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { repositoryRoot, scratchFolder, spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';
import { ledgerAgent, type LedgerState } from './fixtures/cross-node-agent.js';
import { eventually } from './support.js';

interface Started {
  readonly label: string;
  readonly attempt: number;
  readonly pid: number;
}

interface NodeB {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when the child printed `line`. */
  printed(line: string): Promise<void>;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<string>;
}

function startNodeB(url: string, ledger: string, mode: 'first' | 'again', pollMs: number): NodeB {
  const script = join(repositoryRoot, 'test', 'agents', 'fixtures', 'cross-node-b.ts');
  // Closing stdin shuts node B down; every stream is a pipe.
  const child = spawnScript(script, [url, ledger, mode, pollMs], { stdin: true });
  return {
    child: child.process as ChildProcessWithoutNullStreams,
    exited: child.exited.then((exit) => String(exit.signal ?? exit.code)),
    printed: (line) => child.waitFor(`${line}\n`, 'stdout').then(() => undefined),
  };
}

function readLedger(path: string): Started[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Started);
}

describe.each(adapters)('agents across nodes, node B killed, on $name', (adapter) => {
  it(
    'work, a call and a signal from node A survive B killed with SIGKILL: each runs exactly once after B restarts',
    { timeout: 30_000 },
    async () => {
      const dir = scratchFolder('garrison-cross-node-');
      const ledger = join(dir, 'ledger.jsonl');
      const url = adapter.freshUrl();
      const pollMs = adapter.name === 'postgres' ? 60_000 : 200;
      const store = await openStore(url);
      const runtime = createRuntime({ clock: systemClock });
      const queues = createQueueClient({ store });
      const host = await createAgentHost({
        store,
        runtime,
        registry: createRegistry({ store }),
        queues,
        nodeId: 'node-a',
        definitions: [ledgerAgent()],
        pollIntervalMs: pollMs,
      });
      const done = async () => (await host.state<LedgerState>('remote')).done;
      let second: NodeB | undefined;
      try {
        const first = startNodeB(url, ledger, 'first', pollMs);
        await first.printed('ready');
        await host.enqueue('remote', 'record', { label: 'one' });
        await eventually(async () => (await done()).includes('one'), 'B ran the first task');

        await host.enqueue('remote', 'record', { label: 'hang' });
        await first.printed('at hang');
        first.child.kill('SIGKILL');
        expect(await first.exited).toBe('SIGKILL');

        // B is dead. Work, a call and a signal from A are committed all the same.
        await host.enqueue('remote', 'record', { label: 'two' });
        const call = host.call('remote', 'record', { label: 'called' }, { timeoutMs: 60_000 });
        const signal = await host.signal('remote', { type: 'ledger.note', data: { label: 'sig' } });
        await eventually(
          async () => (await queues.stats(agentQueueName('remote'))).queued === 3,
          'the call queued',
        );
        const tasks = await queues.listTasks({ queue: agentQueueName('remote') });
        expect(tasks.filter((t) => t.state === 'running').map((t) => t.payload)).toEqual([
          { action: 'record', input: { label: 'hang' } },
        ]);

        second = startNodeB(url, ledger, 'again', pollMs);
        await second.printed('ready');
        expect(await call).toMatchObject({ label: 'called' });
        await eventually(async () => (await done()).length === 5, 'B ran everything');
        await eventually(
          async () => (await queues.getTask(signal.taskId))?.state === 'completed',
          'the signal acknowledged',
        );

        // Each once in the committed state, in whatever order B took them after the restart.
        expect((await done()).slice().sort()).toEqual(['called', 'hang', 'ledger.note:sig', 'one', 'two']);
        expect((await host.get('remote')).counters).toMatchObject({ processed: 5, failed: 0 });
        const started = readLedger(ledger);
        const runs = (label: string) => started.filter((s) => s.label === label);
        expect(runs('hang').map((s) => [s.attempt, s.pid])).toEqual([
          [1, first.child.pid],
          [2, second.child.pid],
        ]);
        for (const label of ['one', 'two', 'called']) expect(runs(label)).toHaveLength(1);
        expect(
          await queues.listTasks({ queue: agentQueueName('remote'), states: ['queued', 'running'] }),
        ).toEqual([]);
      } finally {
        second?.child.stdin.end();
        if (second !== undefined) await second.exited;
        await host.shutdown();
        await runtime.shutdown();
        await store.close();
      }
    },
  );
});
