import { afterEach, describe, expect, it } from 'vitest';
import { defineWorkflow, WorkflowErrorCode } from '../../../src/work/workflow/index.js';
import { adapters } from '../../support/stores.js';
import { Harnesses, rejectionOf, until } from './helpers.js';

const HOUR = 3_600_000;

describe.each(adapters)('durable sleep and signals on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('a sleep ends at its due time and not before', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('nap', async (ctx) => {
      const before = await ctx.step('before', async () => h.clock.now());
      await ctx.sleep(HOUR);
      const after = await ctx.step('after', async () => h.clock.now());
      return after - before;
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'sleeping', 'the run sleeps');
    expect((await handle.get())?.wakeAt).toBe(h.clock.now() + HOUR);
    await h.clock.advance(HOUR - 1);
    expect((await handle.get())?.status).toBe('sleeping');
    await h.clock.advance(1);
    expect(await handle.result()).toBe(HOUR);
  });

  it('a durable sleep survives a restart and wakes the new engine at the journaled time', async () => {
    const h = await harnesses.create(adapter);
    const counts = { before: 0, after: 0 };
    const wf = defineWorkflow('overnight', async (ctx) => {
      await ctx.step('before', async () => void counts.before++);
      await ctx.sleepUntil(new Date(h.clock.now() + 8 * HOUR));
      await ctx.step('after', async () => void counts.after++);
      return 'woke';
    });
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await until(async () => (await first.get(workflowId))?.status === 'sleeping', 'the run sleeps');
    const due = h.clock.now() + 8 * HOUR;
    await first.stop(); // the node goes down for two hours
    await h.clock.advance(2 * HOUR);

    const second = h.engine();
    second.register(wf);
    expect(await second.recover()).toBe(1);
    const [sleep] = (await second.steps(workflowId)).filter((s) => s.kind === 'sleep');
    expect(sleep?.dueAt).toBe(due);
    await h.clock.advance(6 * HOUR - 1);
    expect(counts.after).toBe(0);
    await h.clock.advance(1);
    expect(await second.result(workflowId)).toBe('woke');
    expect(counts).toEqual({ before: 1, after: 1 });
  });

  it('an overdue sleep ends at once after a restart', async () => {
    const h = await harnesses.create(adapter);
    const wf = defineWorkflow('overdue', async (ctx) => {
      await ctx.sleep(1000);
      return 'done';
    });
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await until(async () => (await first.get(workflowId))?.status === 'sleeping', 'the run sleeps');
    await first.stop();
    await h.clock.advance(HOUR);
    const second = h.engine();
    second.register(wf);
    await second.recover();
    expect(await second.result(workflowId)).toBe('done');
  });

  it('a signal sent after the wait began wakes the run with its data', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('approval', async (ctx) => {
      const decision = await ctx.waitForSignal<{ approved: boolean }>('decision');
      return decision?.approved === true ? 'approved' : 'rejected';
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'waiting', 'the run waits');
    await engine.signal(handle.workflowId, 'decision', { approved: true });
    expect(await handle.result()).toBe('approved');
    const [entry] = await engine.steps(handle.workflowId);
    expect(entry).toMatchObject({ kind: 'signal', name: 'decision', status: 'completed' });
  });

  it('a signal sent before the wait is kept and consumed by it, in order', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('collect', async (ctx) => {
      await ctx.sleep(1000);
      const first = await ctx.waitForSignal<number>('item');
      const second = await ctx.waitForSignal<number>('item');
      return [first, second];
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'sleeping', 'the run sleeps');
    await engine.signal(handle.workflowId, 'item', 1);
    await engine.signal(handle.workflowId, 'item', 2);
    await engine.signal(handle.workflowId, 'other', 'ignored');
    await h.clock.advance(1000);
    expect(await handle.result()).toEqual([1, 2]);
  });

  it('signals sent while the node is down are delivered after recovery', async () => {
    const h = await harnesses.create(adapter);
    const wf = defineWorkflow('mailbox', async (ctx) => ctx.waitForSignal<string>('letter'));
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await until(async () => (await first.get(workflowId))?.status === 'waiting', 'the run waits');
    await first.stop();
    const second = h.engine();
    second.register(wf);
    await second.signal(workflowId, 'letter', 'hello');
    await second.recover();
    expect(await second.result(workflowId)).toBe('hello');
  });

  it('a wait with a timeout returns undefined once the timeout passes, durably', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('patient', async (ctx) => {
      const answer = await ctx.waitForSignal('answer', { timeoutMs: 5000 });
      const late = await ctx.step('after', async () => 'went on');
      return { answer: answer ?? 'timed out', late };
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'waiting', 'the run waits');
    await h.clock.advance(4999);
    expect((await handle.get())?.status).toBe('waiting');
    await h.clock.advance(1);
    expect(await handle.result()).toEqual({ answer: 'timed out', late: 'went on' });
    // A signal after the timeout is refused: the run is finished.
    const error = await rejectionOf(engine.signal(handle.workflowId, 'answer', 'too late'));
    expect(error.code).toBe(WorkflowErrorCode.finished);
  });

  it('signalling an unknown run fails with workflow_not_found', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const error = await rejectionOf(engine.signal('nobody', 'x', 1));
    expect(error.code).toBe(WorkflowErrorCode.notFound);
  });

  it('a signal reaches a run waiting on another engine of the same database', async () => {
    const h = await harnesses.create(adapter);
    const wf = defineWorkflow('remote', async (ctx) => ctx.waitForSignal<string>('ping'));
    const owner = h.engine({ nodeId: 'owner' });
    const { workflowId } = await owner.start(wf, null);
    await until(async () => (await owner.get(workflowId))?.status === 'waiting', 'the run waits');
    const otherStore = await h.openAgain();
    const sender = h.engine({ nodeId: 'sender', store: otherStore });
    await sender.signal(workflowId, 'ping', 'pong');
    if (adapter.name === 'sqlite') {
      // No wake-ups between two SQLite stores: the owner's lease tick (every third of a lease) finds it.
      await h.clock.advance(10_000);
    } // PostgreSQL: NOTIFY wakes the owner at once; the clock stands still.
    expect(await owner.result(workflowId)).toBe('pong');
  });
});
