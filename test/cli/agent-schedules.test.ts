/**
 * `garrison agents schedules ID` and `garrison agents schedule run|pause|resume|update|remove ID NAME`:
 * an agent's schedules from the command line, on the store a node runs the agent from. Each change is a
 * store transaction with an audit event (`cli:<user>@<host>`); an unknown schedule or a bad timing exits
 * non-zero with its code and writes nothing. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, defineAgent, listAuditEvents } from '../../src/agents/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

const cleaner = defineAgent({
  type: 'cleaner',
  capabilities: ['cleaning'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'sweep', input: z.object({}), output: z.null(), run: () => null })],
  schedules: [{ name: 'sweep', everyMs: 600_000, action: 'sweep' }],
});

describe.each(adapters)('garrison agents schedules on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await store?.close();
    node = store = undefined;
  });

  async function setUp(): Promise<{ url: string; store: Store; node: GarrisonNode }> {
    const url = adapter.freshUrl();
    store = await openStore(url);
    node = await startNode({ store, nodeName: 'cli-sched', agents: [cleaner] });
    await node.agents.start(cleaner, { id: 'c1' });
    return { url, store, node };
  }

  it('lists, pauses, updates, runs, resumes and removes a schedule; each change audited', async () => {
    const { url, store, node } = await setUp();
    const listed = await cli('agents', 'schedules', 'c1', '--store', url);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^sweep +sweep +600000 ms +active /m);

    const paused = await cli('agents', 'schedule', 'pause', 'c1', 'sweep', '--store', url);
    expect([paused.code, paused.stdout.trim()]).toEqual([0, 'paused schedule sweep of agent c1']);
    const again = await cli('agents', 'schedule', 'pause', 'c1', 'sweep', '--store', url);
    expect(again.stdout.trim()).toBe('was paused already: schedule sweep of agent c1');

    const updated = await cli(
      'agents',
      'schedule',
      'update',
      'c1',
      'sweep',
      '--cron',
      '0 4 * * *',
      '--store',
      url,
      '--json',
    );
    expect(updated.code).toBe(0);
    expect(lastJson(updated.stdout)).toMatchObject({
      operation: 'update',
      schedule: { cron: '0 4 * * *', everyMs: null, state: 'paused' },
    });
    const ran = await cli('agents', 'schedule', 'run', 'c1', 'sweep', '--store', url, '--json');
    expect(lastJson<{ taskId: number }>(ran.stdout).taskId).toBeGreaterThan(0);
    const resumed = await cli('agents', 'schedule', 'resume', 'c1', 'sweep', '--store', url);
    expect(resumed.stdout.trim()).toMatch(/^resumed schedule sweep of agent c1; next run \d{4}-/);
    expect((await node.agents.schedules.list('c1'))[0]).toMatchObject({ cron: '0 4 * * *', state: 'active' });

    const removed = await cli('agents', 'schedule', 'remove', 'c1', 'sweep', '--store', url);
    expect(removed.stdout.trim()).toBe('removed schedule sweep of agent c1');
    expect((await cli('agents', 'schedules', 'c1', '--store', url, '--json')).stdout).toMatch(
      /"schedules":\[\]/,
    );

    const trail = await listAuditEvents(store, { target: 'c1' });
    expect(trail.map((e) => e.action).reverse()).toEqual([
      'agent.schedule.pause',
      'agent.schedule.pause',
      'agent.schedule.update',
      'agent.schedule.run',
      'agent.schedule.resume',
      'agent.schedule.remove',
    ]);
    for (const e of trail) expect(e.actor).toMatch(/^cli:.+@.+$/);
  });

  it('an unknown schedule, a bad cron or two timings exit non-zero with their code and write nothing', async () => {
    const { url, store, node } = await setUp();
    const before = await node.agents.schedules.list('c1');
    const unknown = await cli('agents', 'schedule', 'pause', 'c1', 'nightly', '--store', url);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/schedule_not_found/);
    expect(unknown.stderr).toContain('agent c1 has no schedule named nightly (its schedules: sweep)');
    const bad = await cli(
      'agents',
      'schedule',
      'update',
      'c1',
      'sweep',
      '--cron',
      'tuesdays',
      '--store',
      url,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid cron pattern "tuesdays"/);
    const both = await cli(
      'agents',
      'schedule',
      'update',
      'c1',
      'sweep',
      '--every',
      '5',
      '--cron',
      '* * * * *',
      '--store',
      url,
    );
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/exactly one/);
    const missing = await cli('agents', 'schedule', 'run', 'c1', '--store', url);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/missing required argument 'name'/);
    expect(await node.agents.schedules.list('c1')).toEqual(before);
    expect(await listAuditEvents(store, { target: 'c1' })).toEqual([]);
  });
});
