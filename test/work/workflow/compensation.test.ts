import { afterEach, describe, expect, it } from 'vitest';
import { defineWorkflow, WorkflowErrorCode, type WorkflowContext } from '../../../src/work/workflow/index.js';
import { adapters } from '../../support/stores.js';
import { deferred, Harnesses, rejectionOf, until } from './helpers.js';

/** Three booking steps, each undone by its compensation; the log shows what ran in which order. */
async function book(ctx: WorkflowContext, log: string[]): Promise<void> {
  for (const item of ['flight', 'hotel', 'car']) {
    await ctx.step(`book-${item}`, async () => void log.push(`book ${item}`), {
      compensate: async () => void log.push(`cancel ${item}`),
    });
  }
}

describe.each(adapters)('cancellation, failure and compensation on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('a failing run compensates its finished steps in reverse order, each journaled, and ends failed', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const log: string[] = [];
    const wf = defineWorkflow('trip', async (ctx) => {
      await book(ctx, log);
      await ctx.step('pay', async () => {
        log.push('pay');
        throw new Error('card declined');
      });
    });
    const handle = await engine.start(wf, null);
    const error = await rejectionOf(handle.result());
    expect(error.code).toBe(WorkflowErrorCode.failed);
    expect(error.message).toMatch(/card declined/);
    expect(log).toEqual([
      'book flight',
      'book hotel',
      'book car',
      'pay',
      'cancel car',
      'cancel hotel',
      'cancel flight',
    ]);
    const steps = await engine.steps(handle.workflowId);
    expect(steps.filter((s) => s.kind === 'compensation').map((s) => [s.index, s.name, s.status])).toEqual([
      [-3, 'compensate:book-car', 'completed'],
      [-2, 'compensate:book-hotel', 'completed'],
      [-1, 'compensate:book-flight', 'completed'],
    ]);
    expect(steps.find((s) => s.name === 'pay')).toMatchObject({
      status: 'failed',
      error: { message: 'card declined' },
    });
    expect((await handle.get())?.status).toBe('failed');
  });

  it('cancelling a waiting run aborts it, compensates in reverse order and ends cancelled', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const log: string[] = [];
    const wf = defineWorkflow('trip-waiting', async (ctx) => {
      await book(ctx, log);
      await ctx.waitForSignal('confirm');
      log.push('confirmed');
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'waiting', 'the run waits');
    await engine.cancel(handle.workflowId);
    const error = await rejectionOf(handle.result());
    expect(error.code).toBe(WorkflowErrorCode.cancelled);
    expect(log).toEqual([
      'book flight',
      'book hotel',
      'book car',
      'cancel car',
      'cancel hotel',
      'cancel flight',
    ]);
    expect((await handle.get())?.status).toBe('cancelled');
  });

  it('cancelling a paused run takes it over and compensates it', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const log: string[] = [];
    const wf = defineWorkflow('trip-paused', async (ctx) => {
      await book(ctx, log);
      await ctx.waitForSignal('confirm');
    });
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'waiting', 'the run waits');
    await engine.pause(handle.workflowId);
    await until(async () => (await handle.get())?.status === 'paused', 'the run is paused');
    await engine.cancel(handle.workflowId);
    expect((await rejectionOf(handle.result())).code).toBe(WorkflowErrorCode.cancelled);
    expect(log).toEqual([
      'book flight',
      'book hotel',
      'book car',
      'cancel car',
      'cancel hotel',
      'cancel flight',
    ]);
  });

  it('a running step sees its abort signal on cancel and is not compensated', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const log: string[] = [];
    const started = deferred();
    const wf = defineWorkflow('long-step', async (ctx) => {
      await ctx.step('first', async () => void log.push('first'), {
        compensate: async () => void log.push('undo first'),
      });
      await ctx.step(
        'long',
        (step) =>
          new Promise((_resolve, reject) => {
            started.resolve();
            step.signal.addEventListener('abort', () => {
              log.push('long aborted');
              reject(new Error('aborted'));
            });
          }),
        { compensate: async () => void log.push('undo long') },
      );
    });
    const handle = await engine.start(wf, null);
    await started.promise;
    await engine.cancel(handle.workflowId);
    expect((await rejectionOf(handle.result())).code).toBe(WorkflowErrorCode.cancelled);
    expect(log).toEqual(['first', 'long aborted', 'undo first']);
  });

  it('cancellation of a run that was interrupted resumes its compensation after a restart', async () => {
    const h = await harnesses.create(adapter);
    const log: string[] = [];
    const wf = defineWorkflow('trip-restart', async (ctx) => {
      await book(ctx, log);
      await ctx.sleep(60_000);
    });
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await until(async () => (await first.get(workflowId))?.status === 'sleeping', 'the run sleeps');
    await first.stop();
    // Cancelled while no node runs it: whoever recovers it compensates.
    const second = h.engine();
    second.register(wf);
    await second.cancel(workflowId);
    expect((await rejectionOf(second.result(workflowId))).code).toBe(WorkflowErrorCode.cancelled);
    expect(log).toEqual([
      'book flight',
      'book hotel',
      'book car',
      'cancel car',
      'cancel hotel',
      'cancel flight',
    ]);
  });

  it('child workflows are started with derived ids and awaited; cancelling the parent cancels them', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const square = defineWorkflow('square', async (ctx, n: number) => ctx.step('mul', async () => n * n));
    const forever = defineWorkflow('forever', async (ctx) => ctx.waitForSignal('never'));
    engine.register(square, forever);
    const parent = defineWorkflow('sum-of-squares', async (ctx, ns: number[]) => {
      const children = await Promise.all(ns.map((n) => ctx.startChild(square, n)));
      const values = await Promise.all(children.map((c) => c.result()));
      return values.reduce((a, b) => a + b, 0);
    });
    const handle = await engine.start(parent, [1, 2, 3], { workflowId: 'sum' });
    expect(await handle.result()).toBe(14);
    const kids = await engine.list({ parentId: 'sum' });
    expect(kids.map((k) => k.id).sort()).toEqual(['sum:0', 'sum:1', 'sum:2']);
    expect(kids.every((k) => k.status === 'completed')).toBe(true);

    const waiter = defineWorkflow('waits-on-child', async (ctx) => ctx.child(forever, null));
    const w = await engine.start(waiter, null, { workflowId: 'w' });
    await until(async () => (await engine.get('w:0'))?.status === 'waiting', 'the child waits');
    await engine.cancel('w');
    expect((await rejectionOf(w.result())).code).toBe(WorkflowErrorCode.cancelled);
    await until(async () => (await engine.get('w:0'))?.status === 'cancelled', 'the child is cancelled');
  });

  it('a failed child fails the parent step that awaits it with child_workflow_failed', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const broken = defineWorkflow('broken', async () => {
      throw new Error('child broke');
    });
    const parent = defineWorkflow('parent', async (ctx) => {
      try {
        await ctx.child(broken, null);
        return 'unexpected';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    });
    expect(await (await engine.start(parent, null)).result()).toBe(WorkflowErrorCode.childFailed);
  });

  it('a child survives the restart of its parent: the parent picks up its result from the journal', async () => {
    const h = await harnesses.create(adapter);
    const slow = defineWorkflow('slow-child', async (ctx) => {
      await ctx.sleep(10_000);
      return 'child done';
    });
    const parent = defineWorkflow(
      'patient-parent',
      async (ctx) => `parent got ${await ctx.child(slow, null)}`,
    );
    const first = h.engine();
    first.register(slow);
    const { workflowId } = await first.start(parent, null);
    await until(async () => (await first.get(`${workflowId}:0`))?.status === 'sleeping', 'the child sleeps');
    // Both wait with nothing in memory: the child for its timer, the parent for its child.
    await until(() => first.activity().parked === 2, 'both are parked');
    await first.stop();
    const second = h.engine();
    second.register(slow, parent);
    // Nothing to take over: the new engine arms the child's wake-up; the child's result wakes the parent.
    expect(await second.recover()).toBe(1);
    await h.clock.advance(10_000);
    expect(await second.result(workflowId)).toBe('parent got child done');
  });

  it('a step is retried with back-off after failures, its next attempt time stored durably', async () => {
    const h = await harnesses.create(adapter);
    let attempts = 0;
    const flaky = defineWorkflow('flaky', async (ctx) =>
      ctx.step(
        'call',
        async (step) => {
          attempts++;
          if (step.attempt < 3) throw new Error(`try ${step.attempt} failed`);
          return `ok on ${step.attempt}`;
        },
        { retry: { maxAttempts: 3, initialDelayMs: 1000, backoffFactor: 2 } },
      ),
    );
    const first = h.engine();
    const { workflowId } = await first.start(flaky, null);
    await until(
      async () => (await first.steps(workflowId))[0]?.status === 'retrying',
      'the step waits to retry',
    );
    const [entry] = await first.steps(workflowId);
    expect(entry).toMatchObject({
      attempts: 1,
      dueAt: h.clock.now() + 1000,
      error: { message: 'try 1 failed' },
    });
    await first.stop(); // the retry survives a restart

    const second = h.engine();
    second.register(flaky);
    await second.recover();
    await h.clock.advance(999);
    expect(attempts).toBe(1);
    await h.clock.advance(1);
    await until(async () => (await second.steps(workflowId))[0]?.attempts === 2, 'the second attempt failed');
    expect((await second.steps(workflowId))[0]?.dueAt).toBe(h.clock.now() + 2000);
    await h.clock.advance(2000);
    expect(await second.result(workflowId)).toBe('ok on 3');
    expect(attempts).toBe(3);
  });

  it('a step out of attempts fails the run with step_failed details', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const hopeless = defineWorkflow('hopeless', async (ctx) =>
      ctx.step(
        'call',
        async () => {
          throw new Error('down');
        },
        { retry: { maxAttempts: 2, initialDelayMs: 10 } },
      ),
    );
    const handle = await engine.start(hopeless, null);
    await until(async () => (await handle.get())?.status === 'sleeping', 'the retry waits');
    await h.clock.advance(10);
    const error = await rejectionOf(handle.result());
    expect(error.message).toMatch(/down/);
    const stored = (await handle.get())?.error;
    expect(stored).toMatchObject({ code: WorkflowErrorCode.stepFailed });
    expect((await engine.steps(handle.workflowId))[0]).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('pause stops a run at its next step boundary; resume carries on without redoing finished steps', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const ran: string[] = [];
    const inFirst = deferred();
    const releaseFirst = deferred();
    const wf = defineWorkflow('pausable', async (ctx) => {
      await ctx.step('one', async () => {
        ran.push('one');
        inFirst.resolve();
        await releaseFirst.promise;
      });
      await ctx.step('two', async () => void ran.push('two'));
      await ctx.sleep(5000);
      await ctx.step('three', async () => void ran.push('three'));
      return ran.length;
    });
    const handle = await engine.start(wf, null);
    await inFirst.promise;
    await engine.pause(handle.workflowId);
    releaseFirst.resolve();
    await until(async () => (await handle.get())?.status === 'paused', 'the run is paused');
    expect(ran).toEqual(['one']);
    expect((await handle.get())?.owner).toBeUndefined();

    await engine.resume(handle.workflowId);
    await until(async () => (await handle.get())?.status === 'sleeping', 'the run sleeps');
    expect(ran).toEqual(['one', 'two']);
    // Paused while sleeping: at once. The sleep keeps its due time across pause and resume.
    await engine.pause(handle.workflowId);
    await until(async () => (await handle.get())?.status === 'paused', 'the sleeping run is paused');
    await h.clock.advance(5000);
    expect(ran).toEqual(['one', 'two']);
    await engine.resume(handle.workflowId);
    expect(await handle.result()).toBe(3);
    expect(ran).toEqual(['one', 'two', 'three']);

    const error = await rejectionOf(engine.resume(handle.workflowId));
    expect(error.code).toBe(WorkflowErrorCode.finished);
  });
});
