/**
 * A client in another process against a node in this one: every request reaches the node through the
 * store and its wake-ups, on both stores. The node's own polls are ten minutes apart, so what it does
 * for the client it does because it was woken.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createWorker, type Worker } from '../../src/work/queue/index.js';
import { createWorkflowEngine, type WorkflowEngine } from '../../src/work/workflow/index.js';
import { spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';
import { approval, sum } from './fixtures/workflows.js';

const fixtures = join(import.meta.dirname, 'fixtures');
/** Ten minutes: the node's scan for runs, and the worker's poll, never come within a test. */
const LONG_MS = 600_000;

describe.each(adapters)('a client in another process on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let worker: Worker<{ to: string }> | undefined;
  let engine: WorkflowEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
    await worker?.stop();
    await node?.stop();
    await store?.close();
    worker = node = store = undefined;
  });

  async function executor(url: string, mails: string[]): Promise<void> {
    store = await openStore(url);
    const started = createWorker<{ to: string }>({
      store,
      queues: 'mail',
      pollIntervalMs: LONG_MS,
      handler: (task) => {
        mails.push(task.payload.to);
      },
    });
    worker = started;
    await started.start();
    node = await startNode({
      store,
      nodeName: 'executor',
      config: { workflows: { leaseMs: LONG_MS } },
      workflows: [approval, sum],
    });
  }

  it('starts, signals, pauses, resumes, cancels, starts a batch and enqueues; this node executes it all', async () => {
    const url = adapter.freshUrl();
    const mails: string[] = [];
    await executor(url, mails);
    const child = spawnScript(join(fixtures, 'client-session.ts'), [url, 'cs'], { env: {} });
    expect((await child.line<{ e: 'signalled'; output: string }>('signalled')).output).toBe(
      'spec approved by ada',
    );
    // pause and resume answer the run as read right after the request: the node, woken by it, may
    // already have applied it (the client's fixture then waits for paused, and for waiting again).
    expect(await child.line('resumed')).toEqual({
      e: 'resumed',
      pausedStatus: expect.stringMatching(/^(waiting|paused)$/) as unknown,
      resumedStatus: expect.stringMatching(/^(pending|running|waiting)$/) as unknown,
      output: 'plan approved by bob',
    });
    expect(await child.line('cancelled')).toEqual({ e: 'cancelled', code: 'workflow_cancelled' });
    expect(await child.line('batch')).toEqual({ e: 'batch', outputs: [2, 4, 6], againCreated: false });
    const { id } = await child.line<{ e: 'enqueued'; id: number }>('enqueued');
    await child.line('done');
    const exit = await child.exited;
    expect(exit.code, exit.stderr).toBe(0);
    // Every run was executed by this node.
    const runs = await node!.workflows.list();
    expect(runs).toHaveLength(6);
    expect(new Set(runs.map((r) => r.owner))).toEqual(new Set([node!.id]));
    expect(runs.find((r) => r.id === 'cs-c')?.status).toBe('cancelled');
    // The task reached the worker here, woken by the client's commit.
    for (let i = 0; mails.length === 0 && i < 10_000; i++) await new Promise((r) => setTimeout(r, 2));
    expect(mails).toEqual(['cs@example.com']);
    expect(typeof id).toBe('number');
  });

  it('a run a client starts is taken up by a node whose own polls are ten minutes apart', async () => {
    const url = adapter.freshUrl();
    await executor(url, []);
    const child = spawnScript(join(fixtures, 'client-start.ts'), [url, 'woken'], { env: {} });
    await child.line('started');
    expect(await node!.workflows.result('woken')).toBe(42);
    expect((await node!.workflows.get('woken'))?.owner).toBe(node!.id);
  });

  it('a plain engine whose recovery runs ten minutes apart takes up a run a client started', async () => {
    const url = adapter.freshUrl();
    store = await openStore(url);
    engine = createWorkflowEngine({ store, nodeId: 'plain', leaseMs: LONG_MS, recoverIntervalMs: LONG_MS });
    engine.register(sum);
    expect(await engine.recover()).toBe(0); // listening from here on
    const child = spawnScript(join(fixtures, 'client-start.ts'), [url, 'plain-run'], { env: {} });
    await child.line('started');
    expect(await engine.result('plain-run')).toBe(42);
    expect((await engine.get('plain-run'))?.owner).toBe('plain');
  });
});
