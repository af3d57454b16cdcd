/**
 * Applications: `defineApp` refuses a mistake with one readable line, `loadApp` loads a module's default
 * export or says why not, and `startApp` runs the workflows, agents, queue handlers and cron schedules
 * of an application on a node, and drains them all on stop.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp, loadApp, startApp, type RunningApp } from '../../src/app/index.js';
import { defineQueue, type ClaimedTask } from '../../src/work/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { greet, greeter } from './fixtures/greeter.js';

const fixtures = join(import.meta.dirname, 'fixtures');

/** Polls `read` until `done` (each read is a store query; the test's own timeout bounds it). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('defineApp', () => {
  it('refuses a mistake with one invalid_input line naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ workflows: [{ name: 'x' }] }, /^invalid application: workflows\.0\.run: a workflow function/],
      [{ agents: [{ definition: greeter, count: 2, ids: ['a'] }] }, /agents\.0: give count or ids, not both/],
      [{ agents: [{ definition: greeter, count: -1 }] }, /agents\.0\.count/],
      [{ schedules: [{ name: 'x', cron: '* * * * *' }] }, /schedules\.0: give a workflow or a run function/],
      [{ config: { store: 'sqlite:x.db' } }, /config: Unrecognized key: "store"/],
      [{ config: { heartbeatMs: 5 } }, /config\.heartbeatMs/],
      [{ config: { api: { tokenFile: 'x' } } }, /config: Unrecognized key: "api"/],
      [{ modules: [] }, /Unrecognized key: "modules"/],
      [{ workflows: [greet, greet] }, /workflows: workflow names must be distinct/],
    ];
    for (const [spec, message] of cases) {
      let error: unknown;
      try {
        defineApp(spec as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(spec)).toMatchObject({ code: 'invalid_input' });
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('loadApp', () => {
  it('answers the default export of a module made with defineApp', async () => {
    const app = await loadApp(join(fixtures, 'greeter.ts'));
    expect(app.kind).toBe('garrison.app');
  });

  it('says which module is missing, failed or has no application, with a stable code', async () => {
    const failure = (path: string): Promise<Error & { code: string }> =>
      loadApp(path, fixtures).then(
        () => {
          throw new Error(`${path} loaded`);
        },
        (e: unknown) => e as Error & { code: string },
      );
    expect(await failure('nowhere.mjs')).toMatchObject({ code: 'app_not_found' });
    const threw = await failure('throws.mjs');
    expect(threw).toMatchObject({ code: 'app_load_failed' });
    expect(threw.message).toMatch(/throws\.mjs: the database password is missing$/);
    const none = await failure('no-default.mjs');
    expect(none).toMatchObject({ code: 'invalid_app' });
    expect(none.message).toContain('export default defineApp');
    expect(await failure('../app.test.ts/..')).toMatchObject({ code: 'app_load_failed' });
  });
});

describe.each(adapters)('startApp on $name', (adapter) => {
  let store: Store | undefined;
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.stop();
    await store?.close();
    running = store = undefined;
  });

  it('runs the workflows, agents, queue handlers and cron schedules of an application, and drains them', async () => {
    store = await adapter.open();
    const mail = defineQueue({ name: 'mail', schema: z.strictObject({ to: z.string().email() }) });
    const sent: string[] = [];
    const fired: number[] = [];
    const app = defineApp({
      version: '2.1.0',
      workflows: [greet],
      agents: [{ definition: greeter, ids: ['greeter-main'] }],
      queues: [
        {
          queue: mail,
          concurrency: 2,
          handler: (task: ClaimedTask<{ to: string }>) => {
            sent.push(task.payload.to);
          },
        },
      ],
      schedules: [
        // Every second: a run of `greet` per due time, and a function.
        { name: 'tick', cron: '* * * * * *', workflow: greet, input: { name: 'cron' } },
        { name: 'count', cron: '* * * * * *', run: (firing) => void fired.push(firing.dueAt) },
      ],
      config: { drainTimeoutMs: 2000 },
    });
    running = await startApp(app, { store, config: { nodeName: 'app-node' } });
    expect(running.app.version).toBe('2.1.0');
    expect(running.node.config.drainTimeoutMs).toBe(2000);
    expect(running.agentIds).toEqual(['greeter-main']);
    expect((await running.node.registry.list()).map((a) => a.id)).toEqual(['greeter-main']);

    const handle = await running.node.workflows.start(greet, { name: 'ada' });
    expect(await handle.result()).toBe('hello ada');
    await running.node.queues.enqueue(mail, { to: 'ada@example.com' });
    await expect(running.node.queues.enqueue(mail, { to: 'not an address' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await until(
      () => Promise.resolve(sent.length),
      (n) => n === 1,
    );
    expect(sent).toEqual(['ada@example.com']);
    const ticks = await until(
      () =>
        store!.query<{ id: string; status: string }>(
          "SELECT id, status FROM garrison_workflow_runs WHERE id LIKE 'tick:%' AND status = 'completed'",
        ),
      (rows) => rows.length >= 1,
    );
    expect(ticks[0]?.id).toMatch(/^tick:\d+$/);
    await until(
      () => Promise.resolve(fired.length),
      (n) => n >= 1,
    );
    const timers = await running.node.timers.list();
    // The app's schedules, beside the node's own retention cron.
    expect(timers.map((t) => t.id).sort()).toEqual(['app:count', 'app:tick', 'garrison:retention']);

    const report = await running.stop();
    expect(report.node).toBe('app-node');
    expect(report.handedBack.agents).toEqual(['greeter-main']);
    expect(await store.query('SELECT id FROM garrison_agents WHERE node = $1', ['app-node'])).toEqual([]);
  });

  it('a factory application is built from the store it runs on, beforeStart runs before its agents; an app with nothing runs nothing', async () => {
    store = await adapter.open();
    const seen: string[] = [];
    running = await startApp(
      defineApp(async ({ store: given }) => {
        seen.push((await given.query<{ n: number }>('SELECT 1 AS n'))[0]?.n === 1 ? given.dialect : 'none');
        return { agents: [{ definition: greeter, count: 3 }] };
      }),
      {
        store,
        config: { nodeName: 'n1' },
        // Runs with the node up and none of the app's agents started yet.
        beforeStart: async (node) => {
          seen.push(`agents before start: ${(await node.registry.list()).length}`);
        },
      },
    );
    expect(seen).toEqual([store.dialect, 'agents before start: 0']);
    expect(running.agentIds).toEqual(['greeter-n1-1', 'greeter-n1-2', 'greeter-n1-3']);
    await running.stop();

    running = await startApp(defineApp({}), { store, config: { nodeName: 'n2' } });
    expect(running.agentIds).toEqual([]);
    expect((await running.node.registry.list()).filter((a) => a.node === 'n2')).toEqual([]);
    const refused = await startApp(
      defineApp(() => ({ queues: [{ queue: 'mail' as never, handler: () => undefined }] })),
      { store, config: { nodeName: 'n3' } },
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'invalid_input' });
    expect((refused as Error).message).toMatch(/^invalid application: queues\.0\.queue/);
  });
});
