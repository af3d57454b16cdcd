/**
 * Waiting costs nothing: a run that sleeps or waits for a signal, a child or a dispatched step is parked
 * — its execution leaves memory and its process slot, its row is left unowned — and is rebuilt from its
 * journal when it wakes. `maxRunning` then limits only runs executing code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkflowSupervisor } from '../../../src/coordination/index.js';
import { defineWorkflow, type DispatchRequest } from '../../../src/work/workflow/index.js';
import { Scenes, until } from '../../coordination/support.js';
import { adapters } from '../../support/stores.js';
import { Harnesses } from './helpers.js';

const HOUR = 3_600_000;
const RUNS = 200;
const SLOTS = 16;

async function startAll(sup: WorkflowSupervisor, wf: Parameters<WorkflowSupervisor['engine']['start']>[0]) {
  const items = Array.from({ length: RUNS }, (_, i) => ({ workflow: wf, input: i, workflowId: `w-${i}` }));
  return (await sup.engine.startMany(items)).map((h) => h.workflowId);
}

describe.each(adapters)('parked runs on $name', (adapter) => {
  const scenes = new Scenes();
  const harnesses = new Harnesses();
  afterEach(async () => {
    await scenes.cleanAll();
    await harnesses.closeAll();
  });

  it('200 runs waiting for a signal on 16 slots all reach waiting, hold no slot, and all complete when signalled', async () => {
    const scene = await scenes.create(adapter);
    const wf = defineWorkflow('approve', async (ctx, n: number) => {
      const ok = await ctx.waitForSignal<boolean>('approval');
      return ok === true ? n : -1;
    });
    const sup = scene.supervisor({ workflows: [wf], maxRunning: SLOTS });
    await sup.start();
    const ids = await startAll(sup, wf);
    await until(async () => (await scene.statuses()).waiting === RUNS, 'all 200 wait', 20_000);
    expect(await scene.statuses()).toEqual({ waiting: RUNS });
    await until(async () => (await sup.servers()).length === 0, 'no server is left');
    expect(sup.engine.activity()).toEqual({ executing: 0, parked: RUNS });
    for (const id of ids) await sup.engine.signal(id, 'approval', true);
    const results = await Promise.all(ids.map((id) => sup.engine.result(id)));
    expect(results).toEqual(ids.map((_, i) => i));
    expect(await scene.statuses()).toEqual({ completed: RUNS });
    expect(sup.engine.activity()).toEqual({ executing: 0, parked: 0 });
  });

  it('200 sleeping runs on 16 slots all reach sleeping and all complete when the virtual clock passes their time', async () => {
    const scene = await scenes.create(adapter);
    const steps = new Map<string, number>();
    const wf = defineWorkflow('nap', async (ctx, n: number) => {
      await ctx.step(
        'before',
        async () => void steps.set(ctx.workflowId, (steps.get(ctx.workflowId) ?? 0) + 1),
      );
      await ctx.sleep(HOUR + n);
      return n;
    });
    const sup = scene.supervisor({ workflows: [wf], maxRunning: SLOTS });
    await sup.start();
    const ids = await startAll(sup, wf);
    await until(async () => (await scene.statuses()).sleeping === RUNS, 'all 200 sleep', 20_000);
    await until(() => sup.engine.activity().parked === RUNS, 'all 200 are parked', 20_000);
    expect(sup.engine.activity().executing).toBe(0);
    await scene.clock.advance(HOUR + RUNS);
    const results = await Promise.all(ids.map((id) => sup.engine.result(id)));
    expect(results).toEqual(ids.map((_, i) => i));
    // Rebuilt from the journal: the step before the sleep ran once per run.
    expect([...steps.values()].every((n) => n === 1)).toBe(true);
    expect(steps.size).toBe(RUNS);
  });

  it('200 parents waiting for children on 16 slots all complete, none holding a slot while it waits', async () => {
    const scene = await scenes.create(adapter);
    const child = defineWorkflow('part', async (ctx, n: number) => {
      await ctx.sleep(HOUR);
      return ctx.step('double', async () => n * 2);
    });
    const parent = defineWorkflow('whole', async (ctx, n: number) => ctx.child(child, n));
    const sup = scene.supervisor({ workflows: [parent, child], maxRunning: SLOTS });
    await sup.start();
    const ids = await startAll(sup, parent);
    await until(
      async () => {
        const s = await scene.statuses();
        return s.waiting === RUNS && s.sleeping === RUNS;
      },
      'every parent waits and every child sleeps',
      30_000,
    );
    await until(() => sup.engine.activity().parked === 2 * RUNS, 'all 400 are parked', 20_000);
    await scene.clock.advance(HOUR);
    const results = await Promise.all(ids.map((id) => sup.engine.result(id)));
    expect(results).toEqual(ids.map((_, i) => i * 2));
  });

  it('200 runs waiting for dispatched steps on 16 slots all complete when their results come back', async () => {
    const scene = await scenes.create(adapter);
    const requests: DispatchRequest[] = [];
    // Its hand-offs are kept as if in the store: the waiting runs may be parked.
    const dispatcher = {
      durable: true,
      async dispatch(request: DispatchRequest) {
        requests.push(request);
      },
    };
    const wf = defineWorkflow('review', async (ctx, n: number) => {
      const verdict = await ctx.dispatch<{ score: number }>('reviewer', 'review', { n });
      return verdict.score;
    });
    const sup = scene.supervisor({ workflows: [wf], maxRunning: SLOTS, dispatcher });
    await sup.start();
    const ids = await startAll(sup, wf);
    await until(async () => (await scene.statuses()).waiting === RUNS, 'all 200 wait', 20_000);
    await until(() => sup.engine.activity().parked === RUNS, 'all 200 are parked', 20_000);
    expect(requests).toHaveLength(RUNS);
    for (const r of requests) {
      expect(
        await sup.engine.completeDispatched(r.workflowId, r.stepIndex, {
          score: (r.input as { n: number }).n,
        }),
      ).toBe(true);
    }
    const results = await Promise.all(ids.map((id) => sup.engine.result(id)));
    expect(results).toEqual(ids.map((_, i) => i));
    // Each step was handed off once: the rebuilt runs found their results in the journal.
    expect(requests).toHaveLength(RUNS);
  });

  it("a parked run's execution is gone from memory and is rebuilt from its journal when a signal wakes it", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const calls = { before: 0, after: 0 };
    const wf = defineWorkflow('gate', async (ctx) => {
      const a = await ctx.step('before', async () => ++calls.before);
      const data = await ctx.waitForSignal<string>('open');
      const b = await ctx.step('after', async () => ++calls.after);
      return `${a}-${data}-${b}`;
    });
    const handle = await engine.start(wf, null);
    // Parked in memory first, then its row is released: left unowned, so no lease is renewed for it and
    // any node may take it up once woken.
    await until(
      async () => engine.activity().parked === 1 && (await handle.get())?.owner === undefined,
      'the run is parked and its row released',
    );
    expect(engine.activity()).toEqual({ executing: 0, parked: 1 });
    expect(await handle.get()).toMatchObject({ status: 'waiting', owner: undefined, leaseUntil: undefined });
    await engine.signal(handle.workflowId, 'open', 'x');
    expect(await handle.result()).toBe('1-x-1');
    expect(calls).toEqual({ before: 1, after: 1 });
    expect(engine.activity()).toEqual({ executing: 0, parked: 0 });
  });

  it('a run parked by an engine that stopped is woken by a signal sent through another engine', async () => {
    const h = await harnesses.create(adapter);
    const wf = defineWorkflow('mailbox', async (ctx) => ctx.waitForSignal<string>('letter'));
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await until(() => first.activity().parked === 1, 'the run is parked');
    await first.stop();
    const second = h.engine({ nodeId: 'node-b' });
    second.register(wf);
    // Nothing to recover: the parked run holds no lease and has no wake-up time.
    expect(await second.recover()).toBe(0);
    await second.signal(workflowId, 'letter', 'hello');
    expect(await second.result(workflowId)).toBe('hello');
  });

  it('a pause reaches a parked run at once, and a resumed run waits again, parked', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('held', async (ctx) => ctx.waitForSignal<number>('go'));
    const { workflowId } = await engine.start(wf, null);
    await until(() => engine.activity().parked === 1, 'the run is parked');
    expect(await engine.pause(workflowId)).toMatchObject({ status: 'paused', owner: undefined });
    await engine.resume(workflowId);
    await until(async () => (await engine.get(workflowId))?.status === 'waiting', 'it waits again');
    await until(() => engine.activity().parked === 1, 'parked again');
    await engine.signal(workflowId, 'go', 7);
    expect(await engine.result(workflowId)).toBe(7);
  });

  it('a cancel wakes a parked run: it is cancelled and its finished steps compensated', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const undone: string[] = [];
    const wf = defineWorkflow('booking', async (ctx) => {
      await ctx.step('reserve', async () => 'seat', { compensate: async (s) => void undone.push(s) });
      await ctx.sleep(HOUR);
    });
    const { workflowId } = await engine.start(wf, null);
    await until(() => engine.activity().parked === 1, 'the run is parked');
    await engine.cancel(workflowId);
    await until(async () => (await engine.get(workflowId))?.status === 'cancelled', 'it is cancelled');
    expect(undone).toEqual(['seat']);
  });
});
