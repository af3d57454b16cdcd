/**
 * An agent's schedules at run time, on a real node: listed, run now, paused, given a new interval or a
 * cron pattern, resumed and removed through its host; each change audited and kept in the store across a
 * node restart; bad input changes nothing; stopping the agent deletes its timers. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, defineAgent, listAuditEvents } from '../../src/agents/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { eventually } from './support.js';

/** Runs of `tick` by agent, outside the store: what the schedules made happen. */
const ticks = new Map<string, number>();

const ticker = defineAgent({
  type: 'ticker',
  capabilities: ['ticks'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({
      name: 'tick',
      input: z.object({ by: z.number() }),
      output: z.null(),
      run: (ctx, { by }) => {
        ticks.set(ctx.agentId, (ticks.get(ctx.agentId) ?? 0) + by);
        return null;
      },
    }),
  ],
  schedules: [
    { name: 'often', everyMs: 50, action: 'tick', input: { by: 1 } },
    { name: 'nightly', cron: '0 3 * * *', action: 'tick', input: { by: 100 } },
  ],
});

describe.each(adapters)('agent schedules at run time on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  afterEach(async () => {
    ticks.clear();
    await node?.stop();
    await store?.close();
    node = store = undefined;
  });

  const start = async () => {
    node = await startNode({ store: store!, nodeName: 'sched-node', agents: [ticker] });
    return node;
  };

  it('a schedule fires from the store; paused, changed and removed it stays so across a node restart', async () => {
    store = await adapter.open();
    let n = await start();
    await n.agents.start(ticker, { id: 't1' });
    await eventually(() => (ticks.get('t1') ?? 0) >= 2, 'the interval schedule fired');
    const listed = await n.agents.schedules.list('t1');
    expect(listed.map((s) => [s.name, s.action, s.everyMs, s.cron, s.state])).toEqual([
      ['nightly', 'tick', null, '0 3 * * *', 'active'],
      ['often', 'tick', 50, null, 'active'],
    ]);
    expect(listed[0]!.nextRunAt).toBeGreaterThan(Date.now());

    const paused = await n.agents.schedules.pause('t1', 'often');
    expect(paused).toMatchObject({ changed: true, schedule: { state: 'paused', nextRunAt: null } });
    expect((await n.agents.schedules.pause('t1', 'often')).changed).toBe(false);
    const updated = await n.agents.schedules.update('t1', 'often', { everyMs: 3_600_000 });
    expect(updated.schedule).toMatchObject({ everyMs: 3_600_000, state: 'paused' });
    const cron = await n.agents.schedules.update('t1', 'nightly', { cron: '30 4 * * 1' });
    expect(cron.schedule).toMatchObject({ cron: '30 4 * * 1', everyMs: null, state: 'active' });

    // Run now: one run of the paused schedule's action, its timer untouched.
    const before = ticks.get('t1') ?? 0;
    const ran = await n.agents.schedules.run('t1', 'nightly');
    expect(ran.taskId).toBeGreaterThan(0);
    await eventually(() => (ticks.get('t1') ?? 0) >= before + 100, 'the run-now ran');
    expect((ticks.get('t1') ?? 0) - before).toBeLessThan(200); // one run of it

    await n.agents.schedules.remove('t1', 'nightly');
    await n.stop();
    n = await start();
    expect(n.agents.resumed).toEqual(['t1']);
    expect(await n.agents.schedules.list('t1')).toEqual([
      expect.objectContaining({ name: 'often', everyMs: 3_600_000, state: 'paused', nextRunAt: null }),
    ]);
    const resumed = await n.agents.schedules.resume('t1', 'often');
    expect(resumed.schedule?.state).toBe('active');
    expect(resumed.schedule?.nextRunAt).toBeGreaterThan(Date.now() + 3_500_000);

    const trail = await listAuditEvents(store, { target: 't1' });
    expect(trail.map((e) => e.action).reverse()).toEqual([
      'agent.schedule.pause',
      'agent.schedule.pause',
      'agent.schedule.update',
      'agent.schedule.update',
      'agent.schedule.run',
      'agent.schedule.remove',
      'agent.schedule.resume',
    ]);
    expect(trail.map((e) => e.actor)).toContain('host:sched-node');
    expect(trail.find((e) => e.action === 'agent.schedule.update')?.details).toEqual({
      schedule: 'nightly',
      changed: true,
      timing: { cron: '30 4 * * 1' },
    });
  });

  it('an unknown schedule or a bad timing is refused with a readable error and changes nothing', async () => {
    store = await adapter.open();
    const n = await start();
    await n.agents.start(ticker, { id: 't2' });
    await n.agents.schedules.pause('t2', 'often');
    const before = await n.agents.schedules.list('t2');
    const trail = (await listAuditEvents(store, { target: 't2' })).length;

    await expect(n.agents.schedules.pause('t2', 'weekly')).rejects.toMatchObject({
      code: 'schedule_not_found',
      message: 'agent t2 has no schedule named weekly (its schedules: nightly, often)',
    });
    await expect(n.agents.schedules.update('t2', 'nightly', { cron: 'every tuesday' })).rejects.toMatchObject(
      {
        code: 'invalid_input',
        message: expect.stringMatching(/^invalid cron pattern "every tuesday"/) as unknown,
      },
    );
    await expect(
      n.agents.schedules.update('t2', 'nightly', { everyMs: 10, cron: '* * * * *' }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('exactly one') as unknown,
    });
    await expect(n.agents.schedules.update('t2', 'nightly', { everyMs: 0 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(n.agents.schedules.run('ghost', 'often')).rejects.toMatchObject({ code: 'agent_not_found' });
    await expect(n.agents.schedules.list('t2/x')).rejects.toMatchObject({ code: 'invalid_input' });
    await n.agents.pause('t2');
    await expect(n.agents.schedules.run('t2', 'often')).rejects.toMatchObject({ code: 'agent_paused' });

    expect(await n.agents.schedules.list('t2')).toEqual(before);
    expect(await listAuditEvents(store, { target: 't2' })).toHaveLength(trail);
  });

  it("the schedules die with the agent: a stop deletes its timers, a start again makes the definition's", async () => {
    store = await adapter.open();
    const n = await start();
    await n.agents.start(ticker, { id: 't3' });
    await n.agents.schedules.update('t3', 'often', { everyMs: 3_600_000 });
    expect(await n.timers.list({ owner: 't3' })).toHaveLength(2);
    await n.agents.stop('t3');
    expect(await n.timers.list({ owner: 't3' })).toEqual([]);
    expect(await n.agents.schedules.list('t3')).toEqual([]);
    await expect(n.agents.schedules.run('t3', 'often')).rejects.toMatchObject({ code: 'schedule_not_found' });
    await n.agents.start(ticker, { id: 't3' });
    expect((await n.agents.schedules.list('t3')).map((s) => [s.name, s.everyMs])).toEqual([
      ['nightly', null],
      ['often', 50],
    ]);
  });
});
