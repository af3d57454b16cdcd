import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { approvalSignalName } from '../../src/ai/index.js';
import { createClient } from '../../src/client/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { repositoryRoot, scratchFolder, spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';
import { sumOfSquares } from './fixtures/counting-model.js';

const WORKER = join(repositoryRoot, 'test', 'ai', 'fixtures', 'agent-worker.ts');
/** Where each killed life stops: right before a model call, or inside a tool call after its effect. */
const KILLS = ['model:3', 'tool:5', 'model:8', 'tool:9'];

/** Orders ledger lines by their turn number. */
function byTurn(a: string, b: string): number {
  return Number(a.split(' ')[1]) - Number(b.split(' ')[1]);
}

/** Runs a life per stop, each killed with SIGKILL once stopped, then one to the end; the ledger's lines. */
async function lives(url: string, stops: readonly string[]): Promise<string[]> {
  const ledger = join(scratchFolder('garrison-ai-crash-'), 'ledger.txt');
  writeFileSync(ledger, '');
  for (const stopAt of stops) {
    const life = spawnScript(WORKER, [url, ledger, stopAt]);
    await life.line('stopped', { timeoutMs: 120_000 });
    life.process.kill('SIGKILL');
    const { signal } = await life.exited;
    expect(signal).toBe('SIGKILL');
  }
  const last = spawnScript(WORKER, [url, ledger, 'none']);
  const done = await last.line<{ e: 'done'; text: string }>('done', { timeoutMs: 120_000 });
  const exit = await last.exited;
  expect(exit.code, exit.stderr).toBe(0);
  expect(done.text).toBe(`total ${sumOfSquares(10)}`);
  return readFileSync(ledger, 'utf8').trim().split('\n');
}

describe.each(adapters)('agent loop under SIGKILL on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it(
    'killed at turn boundaries and inside tool calls, the loop resumed by fresh processes calls the model once a turn and makes each tool effect once',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const lines = await lives(url, KILLS);
      // Model calls across all lives: one per turn, none repeated.
      expect(lines.filter((l) => l.startsWith('model '))).toEqual(
        Array.from({ length: 11 }, (_, t) => `model ${t}`),
      );
      // A tool call cut off before its result was journaled ran again in the next life (5 and 9).
      expect(lines.filter((l) => l.startsWith('tool ')).sort()).toEqual(
        [...Array.from({ length: 10 }, (_, t) => `tool ${t}`), 'tool 5', 'tool 9'].sort(),
      );
      store = await openStore(url);
      const effects = await store.query<{ effect_key: string }>('SELECT effect_key FROM effects ORDER BY n');
      expect(effects.map((e) => e.effect_key)).toEqual(
        Array.from({ length: 10 }, (_, t) => `agent-run:agent:${t}:call-${t}`),
      );
      const steps = await store.query<{ name: string; status: string }>(
        "SELECT name, status FROM garrison_workflow_steps WHERE run_id = 'agent-run' ORDER BY idx",
      );
      expect(steps).toHaveLength(32);
      expect(steps.every((s) => s.status === 'completed')).toBe(true);
    },
  );

  it(
    'killed inside a model call, the loop makes that call again: its reply was never journaled',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const lines = await lives(url, ['reply:6']);
      const calls = lines.filter((l) => l.startsWith('model '));
      expect(calls).toEqual([...Array.from({ length: 11 }, (_, t) => `model ${t}`), 'model 6'].sort(byTurn));
      expect(lines.filter((l) => l.startsWith('tool '))).toEqual(
        Array.from({ length: 10 }, (_, t) => `tool ${t}`),
      );
    },
  );

  it(
    'killed while a call waits for approval, the wait is still there for a fresh process: the approval sent meanwhile runs the call once',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const ledger = join(scratchFolder('garrison-ai-approval-'), 'ledger.txt');
      writeFileSync(ledger, '');
      const life = spawnScript(WORKER, [url, ledger, 'waiting', 'approval:4']);
      await life.line('stopped', { timeoutMs: 120_000 });
      life.process.kill('SIGKILL');
      expect((await life.exited).signal).toBe('SIGKILL');

      const client = await createClient({ store: url });
      try {
        await client.signal('agent-run', approvalSignalName('agent', 4, 'call-4'), { approved: true });
      } finally {
        await client.close();
      }
      const last = spawnScript(WORKER, [url, ledger, 'none', 'approval:4']);
      const done = await last.line<{ e: 'done'; text: string }>('done', { timeoutMs: 120_000 });
      const exit = await last.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(done.text).toBe(`total ${sumOfSquares(10)}`);
      const lines = readFileSync(ledger, 'utf8').trim().split('\n');
      // Turn 4's call ran only after the approval, once; no model call was repeated.
      expect(lines.filter((l) => l.startsWith('tool ')).sort()).toEqual(
        Array.from({ length: 10 }, (_, t) => `tool ${t}`).sort(),
      );
      expect(lines.filter((l) => l.startsWith('model '))).toEqual(
        Array.from({ length: 11 }, (_, t) => `model ${t}`),
      );
      store = await openStore(url);
      const signal = await store.query<{ status: string }>(
        "SELECT status FROM garrison_workflow_steps WHERE run_id = 'agent-run' AND kind = 'signal'",
      );
      expect(signal).toEqual([{ status: 'completed' }]);
    },
  );
});
