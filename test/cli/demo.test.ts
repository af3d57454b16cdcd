/**
 * The main job, run as users run it: the real command in a child process, killed with SIGKILL partway
 * and resumed on the same store. Every workflow completes and every step takes effect exactly once.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { scratchFolder, spawnGarrison } from '../support/child.js';
import { lastJson } from './support.js';

interface Summary {
  workflows: { total: number; completed: number; failed: number; cancelled: number; unfinished: number };
  steps: { completed: number; effects: number; repeats: number };
  fanOut: { steps: number; answered: number; failed: number };
  rateLimiter: { name: string; capacity: number; refillPerSecond: number };
  agents: number;
  elapsedMs: number;
}

function run(args: string[]): { done: Promise<{ code: number | null; stdout: string }>; kill(): void } {
  const command = spawnGarrison(args);
  return {
    done: command.exited.then(({ code, stdout }) => ({ code, stdout })),
    kill: () => command.signal('SIGKILL'),
  };
}

async function completedIn(url: string): Promise<number> {
  const store = await openStore(url);
  try {
    const rows = await store.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await store.close();
  }
}

describe('garrison demo', () => {
  it('killed with SIGKILL mid-run, --resume on the same store finishes every workflow, each step once', async () => {
    const url = `sqlite:${join(scratchFolder('garrison-demo-'), 'demo.db')}`;
    const first = run(['demo', '--store', url, '--workflows', '120', '--json']);
    // Kill once some, but not all, workflows are done.
    for (let i = 0; i < 1200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const done = await completedIn(url).catch(() => 0);
      if (done >= 10) break;
    }
    first.kill();
    const killed = await first.done;
    expect(killed.code).toBeNull(); // ended by the signal, not by finishing
    const before = await completedIn(url);
    expect(before).toBeLessThan(120);

    const resumed = await run(['demo', '--store', url, '--resume', '--json']).done;
    expect(resumed.code).toBe(0);
    const summary = lastJson<Summary>(resumed.stdout);
    expect(summary.workflows).toEqual({ total: 120, completed: 120, failed: 0, cancelled: 0, unfinished: 0 });
    expect(summary.steps.completed).toBe(360);
    expect(summary.steps.effects).toBe(360);
    // Every order fanned out to the validators and gathered their answers; the gateway was rate limited.
    expect(summary.fanOut.steps).toBe(120);
    expect(summary.fanOut.answered).toBeGreaterThan(0);
    expect(summary.rateLimiter).toEqual({ name: 'demo.payments', capacity: 10, refillPerSecond: 100 });
  });

  it('--crash-at kills its own worker with SIGKILL and a second worker finishes the job', async () => {
    const url = `sqlite:${join(scratchFolder('garrison-demo-'), 'demo.db')}`;
    const { code, stdout } = await run([
      'demo',
      '--store',
      url,
      '--workflows',
      '60',
      '--crash-at',
      '30%',
      '--json',
    ]).done;
    expect(code).toBe(0);
    const summary = lastJson<Summary>(stdout);
    expect(summary.workflows.completed).toBe(60);
    expect(summary.steps.effects).toBe(summary.steps.completed);
    expect(summary.steps.completed).toBe(180);
    expect(summary.fanOut.steps).toBe(60);
    expect(summary.fanOut.answered).toBeGreaterThan(0);
  });
});
