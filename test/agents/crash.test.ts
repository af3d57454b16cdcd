/**
 * The task agent's queue and current task survive a crash: a real node process is killed with SIGKILL
 * in the middle of a task; after a restart the interrupted task is retried first and the rest of the
 * queue runs in priority order — nothing lost, nothing run twice to completion. Real time, real
 * processes, no timing assertions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentQueueName } from '../../src/agents/index.js';
import { openStore, parseJson } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { repositoryRoot, scratchFolder, spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';
import { TASKS } from './fixtures/crash-tasks.js';

interface Entry {
  readonly e: 'start' | 'end';
  readonly label: string;
  readonly attempt: number;
  readonly key?: string;
  readonly pid: number;
}

/** Runs the node script; resolves with its pid once it printed `until`, killing it there if asked. */
async function runNode(
  url: string,
  ledger: string,
  args: string[],
  until: string,
  kill: boolean,
): Promise<number> {
  const script = join(repositoryRoot, 'test', 'agents', 'fixtures', 'crash-agent.ts');
  const child = spawnScript(script, [url, ledger, ...args], { stdin: true });
  const exit = kill
    ? await child.waitFor(`${until}\n`, 'stdout').then(() => child.kill())
    : await child.exited;
  const reached = kill ? exit.signal === 'SIGKILL' : exit.code === 0 && exit.stdout.includes(`${until}\n`);
  if (!reached)
    throw new Error(
      `node exited (${exit.code ?? exit.signal}) before ${until}: ${exit.stdout}${exit.stderr}`,
    );
  return child.pid;
}

function readLedger(path: string): Entry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Entry);
}

/** Labels in the order the agent must run them: priority, then enqueue order. */
const byPriority = [...TASKS]
  .map(([label, priority], i) => ({ label, priority, i }))
  .sort((a, b) => b.priority - a.priority || a.i - b.i)
  .map((t) => t.label);

describe.each(adapters)('task agent crash on $name', (adapter) => {
  it('killed with SIGKILL mid-task, the node restarts: the task is retried first, the queue is intact and runs in priority order', async () => {
    const dir = scratchFolder('garrison-agent-crash-');
    const ledger = join(dir, 'ledger.jsonl');
    const url = adapter.freshUrl();
    const victim = byPriority[3]!;
    const first = await runNode(url, ledger, ['seed', victim], `at ${victim}`, true);

    // Between the crash and the restart the store holds all of it: the interrupted task still leased,
    // the rest queued.
    const store = await openStore(url);
    try {
      const queues = createQueueClient({ store });
      const tasks = await queues.listTasks({ queue: agentQueueName('ta') });
      const label = (t: (typeof tasks)[number]) => (t.payload as { input: { label: string } }).input.label;
      expect(tasks.filter((t) => t.state === 'running').map(label)).toEqual([victim]);
      expect(
        tasks
          .filter((t) => t.state === 'queued')
          .map(label)
          .sort(),
      ).toEqual(byPriority.slice(4).sort());
    } finally {
      await store.close();
    }

    const second = await runNode(url, ledger, ['run'], 'drained', false);
    const entries = readLedger(ledger);
    const before = entries.filter((e) => e.pid === first);
    const after = entries.filter((e) => e.pid === second);
    expect(before.filter((e) => e.e === 'end').map((e) => e.label)).toEqual(byPriority.slice(0, 3));
    expect(before.at(-1)).toMatchObject({ e: 'start', label: victim, attempt: 1 });
    // After the restart: the interrupted task first (its second attempt), then the queue by priority.
    expect(after.filter((e) => e.e === 'start').map((e) => e.label)).toEqual(byPriority.slice(3));
    expect(after[0]).toMatchObject({ label: victim, attempt: 2 });
    // The action saw its step's idempotency key, the same before and after the crash.
    const stepKey = (label: string) => `wf-crash:${TASKS.findIndex(([l]) => l === label)}`;
    expect(before.at(-1)?.key).toBe(stepKey(victim));
    expect(after[0]?.key).toBe(stepKey(victim));
    for (const e of entries.filter((x) => x.e === 'start')) expect(e.key).toBe(stepKey(e.label));
    // Every task completed exactly once.
    const ends = entries.filter((e) => e.e === 'end').map((e) => e.label);
    expect(ends).toEqual(byPriority);

    const reopened = await openStore(url);
    try {
      const queues = createQueueClient({ store: reopened });
      expect(await queues.listTasks({ queue: agentQueueName('ta') })).toEqual([]);
      const rows = await reopened.query<{ state: unknown; processed: number | string }>(
        'SELECT state, processed FROM garrison_agent_states WHERE id = $1',
        ['ta'],
      );
      const state = parseJson(rows[0]?.state);
      expect(state).toEqual({ done: byPriority });
      expect(Number(rows[0]?.processed)).toBe(TASKS.length);
    } finally {
      await reopened.close();
    }
  });
});
