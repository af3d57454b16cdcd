/**
 * `garrison status` names the work that waits for want of a consumer, on both stores: the queues with
 * queued tasks no live node consumes and the capabilities parked dispatched steps want that no healthy
 * agent has, each with its count (text and `--json`); a queue drops out once a node consumes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineApp, startApp, type RunningApp } from '../../src/app/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { defineQueue } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';
import { stranded } from '../support/stranded.js';

const emails = defineQueue({ name: 'emails', schema: z.strictObject({ to: z.string() }) });

/** Polls `check` every 20 ms until it holds; a bounded number of tries (a wait, not a measurement). */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the condition never held');
}

interface StatusJson {
  unconsumed: {
    queues: Array<{ queue: string; tasks: number; reason: string; message: string }>;
    capabilities: Array<{ capability: string; queue: string; steps: number; reason: string }>;
  };
}

describe.each(adapters)('garrison status lists unconsumed work on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    await node?.stop();
    await store?.close();
    app = node = store = undefined;
  });

  it('queues no live node consumes and capabilities no healthy agent has, each with a count; a consumed queue drops out', async () => {
    const url = adapter.freshUrl();
    store = await openStore(url);
    node = await startNode({ store, nodeName: 'n-flows', workflows: [stranded] });
    await node.queues.enqueue('emails', { to: 'ada' });
    await node.queues.enqueue('emails', { to: 'bob' });
    await node.workflows.start(stranded, {});
    await until(
      async () =>
        (await node!.queues.listTasks({ queue: 'dispatch:doc.nobody', states: ['queued'] })).length === 1,
    );

    const text = await cli('status', '--store', url);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('no live node consumes queue emails (2 queued tasks wait)');
    expect(text.stdout).toContain(
      'no healthy agent has the capability "doc.nobody" (1 dispatched steps wait)',
    );
    const json = lastJson<StatusJson>((await cli('status', '--store', url, '--json')).stdout);
    expect(json.unconsumed).toEqual({
      queues: [
        {
          queue: 'emails',
          tasks: 2,
          reason: 'no_live_consumer',
          message: 'no live node consumes queue emails',
        },
      ],
      capabilities: [
        {
          capability: 'doc.nobody',
          queue: 'dispatch:doc.nobody',
          steps: 1,
          reason: 'no_capable_agent',
          message: 'no healthy agent has the capability "doc.nobody"; the step waits for one',
        },
      ],
    });

    // A node whose app consumes `emails` starts: its tasks are done and the queue is no longer listed.
    app = await startApp(defineApp({ queues: [{ queue: emails, handler: () => undefined }] }), {
      store,
      config: { nodeName: 'n-mail' },
    });
    await until(async () => (await node!.queues.listTasks({ queue: 'emails' })).length === 0);
    const after = await cli('status', '--store', url);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain('queue emails');
    expect(after.stdout).toContain(
      'no healthy agent has the capability "doc.nobody" (1 dispatched steps wait)',
    );
  });
});
