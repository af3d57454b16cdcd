import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, WorkflowErrorCode } from '../../../src/work/workflow/index.js';
import { StoreError, StoreErrorCode } from '../../../src/store/index.js';
import { adapters } from '../../support/stores.js';
import { deferred, Harnesses, rejectionOf, until } from './helpers.js';

describe.each(adapters)('workflow journal on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('journals each step result under its index and returns the workflow output', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('add-three', async (ctx, n: number) => {
      const a = await ctx.step('a', async () => n + 1);
      const b = await ctx.step('b', async () => ({ value: a + 1 }));
      return ctx.step('c', async () => b.value + 1);
    });
    const handle = await engine.start(wf, 1);
    expect(handle.created).toBe(true);
    expect(await handle.result()).toBe(4);
    const steps = await engine.steps(handle.workflowId);
    expect(steps.map((s) => [s.index, s.name, s.kind, s.status, s.output])).toEqual([
      [0, 'a', 'step', 'completed', 2],
      [1, 'b', 'step', 'completed', { value: 3 }],
      [2, 'c', 'step', 'completed', 4],
    ]);
    const run = await engine.get(handle.workflowId);
    expect(run).toMatchObject({ status: 'completed', output: 4, input: 1, owner: 'node-a' });
    expect(run?.finishedAt).toBe(h.clock.now());
  });

  it("journals each step's start and end: the timeline's durations, retries and their waits included", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    let tries = 0;
    const wf = defineWorkflow('timed', async (ctx) => {
      await ctx.step('slow', async () => h.clock.advance(250));
      await ctx.transactionStep('write', async () => h.clock.advance(75));
      await ctx.step(
        'flaky',
        async () => {
          tries++;
          await h.clock.advance(5);
          if (tries === 1) throw new Error('try again');
        },
        { retry: { maxAttempts: 2, initialDelayMs: 1000 } },
      );
      return ctx.sleep(500);
    });
    const start = h.clock.now();
    const handle = await engine.start(wf, null);
    await until(async () => (await handle.get())?.status === 'sleeping', 'the retry waits');
    await h.clock.advance(1000);
    await until(async () => (await engine.steps(handle.workflowId)).length === 4, 'the run sleeps');
    const sleeping = await engine.steps(handle.workflowId);
    expect(sleeping[3]).toMatchObject({ name: 'sleep', status: 'pending', finishedAt: undefined });
    expect(sleeping[3]?.durationMs).toBeUndefined();
    await h.clock.advance(500);
    await handle.result();
    const steps = await engine.steps(handle.workflowId);
    expect(steps.map((s) => [s.name, s.status, s.attempts, s.durationMs])).toEqual([
      ['slow', 'completed', 1, 250],
      ['write', 'completed', 1, 75],
      // first attempt (5 ms), the durable wait (1000 ms from the failure), the second attempt (5 ms)
      ['flaky', 'completed', 2, 1010],
      ['sleep', 'completed', 1, 500],
    ]);
    expect(steps[0]?.startedAt).toBe(start);
    for (const [i, s] of steps.entries()) {
      expect(s.finishedAt).toBe(s.startedAt + (s.durationMs ?? NaN));
      if (i > 0) expect(s.startedAt).toBe(steps[i - 1]?.finishedAt);
    }
  });

  it('a step that finished before a restart is not run again: its journaled result is replayed', async () => {
    const h = await harnesses.create(adapter);
    const calls = { a: 0, b: 0 };
    const blockB = deferred();
    const bStarted = deferred();
    const wf = defineWorkflow('replayed', async (ctx) => {
      const a = await ctx.step('a', async () => {
        calls.a++;
        return `a-${calls.a}`;
      });
      const b = await ctx.step('b', async () => {
        calls.b++;
        bStarted.resolve();
        if (calls.b === 1) await blockB.promise; // the first node "dies" while running b
        return `b-${calls.b}`;
      });
      return [a, b];
    });
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await bStarted.promise; // b runs only once a's result is committed
    await first.stop();

    const second = h.engine();
    second.register(wf);
    expect(await second.recover()).toBe(1);
    expect(await second.result(workflowId)).toEqual(['a-1', 'b-2']);
    expect(calls).toEqual({ a: 1, b: 2 });
    blockB.resolve();
  });

  it('starting with an existing workflow id returns that run and never runs a second one', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    let runs = 0;
    const wf = defineWorkflow('once', async (ctx, input: { order: string }) => {
      runs++;
      return ctx.step('charge', async () => `charged ${input.order}`);
    });
    const [one, two] = await Promise.all([
      engine.start(wf, { order: 'o-1' }, { workflowId: 'order-1' }),
      engine.start(wf, { order: 'o-1' }, { workflowId: 'order-1' }),
    ]);
    const three = await engine.start(wf, { order: 'o-2' }, { workflowId: 'order-1' });
    expect([one.created, two.created, three.created].filter(Boolean)).toHaveLength(1);
    expect(await three.result()).toBe('charged o-1');
    expect(runs).toBe(1);
    expect(await engine.list({ name: 'once' })).toHaveLength(1);

    const other = defineWorkflow('other', async () => 1);
    const conflict = await rejectionOf(engine.start(other, null, { workflowId: 'order-1' }));
    expect(conflict.code).toBe(WorkflowErrorCode.conflict);
  });

  it('an input that fails the schema is rejected with a readable error and nothing is written', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('typed', async (_ctx, input: { email: string; qty: number }) => input.qty, {
      inputSchema: z.object({ email: z.email(), qty: z.number().int().positive() }),
    });
    const error = await rejectionOf(engine.start(wf, { email: 'nope', qty: -1 }, { workflowId: 'bad' }));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(/email/);
    expect(error.message).toMatch(/qty/);
    expect(await engine.get('bad')).toBeUndefined();
    expect(await engine.list()).toEqual([]);
    const badOptions = await rejectionOf(engine.start(wf, { email: 'a@b.co', qty: 1 }, { workflowId: '' }));
    expect(badOptions.code).toBe('invalid_input');
    expect(await engine.list()).toEqual([]);
  });

  it('fan-out steps get indexes in call order and are not re-run after a restart', async () => {
    const h = await harnesses.create(adapter);
    const ran: string[] = [];
    let gateCalls = 0;
    const gate = deferred();
    const gateReached = deferred();
    const wf = defineWorkflow('fan-out', async (ctx) => {
      const parts = await Promise.all(
        ['x', 'y', 'z', 'w'].map((p) =>
          ctx.step(`part-${p}`, async () => {
            ran.push(p);
            return p.toUpperCase();
          }),
        ),
      );
      await ctx.step('gate', async () => {
        gateReached.resolve();
        if (++gateCalls === 1) await gate.promise; // the first node dies here
      });
      return parts.join('');
    });
    const first = h.engine();
    const { workflowId } = await first.start(wf, null);
    await gateReached.promise;
    const steps = await first.steps(workflowId);
    expect(steps.map((s) => `${s.index}:${s.name}`)).toEqual([
      '0:part-x',
      '1:part-y',
      '2:part-z',
      '3:part-w',
    ]);
    await first.stop();

    const second = h.engine();
    second.register(wf);
    await second.recover();
    expect(await second.result(workflowId)).toBe('XYZW');
    expect(ran).toEqual(['x', 'y', 'z', 'w']);
    gate.resolve();
  });

  it('a replay that takes another path than the journal fails with non_determinism naming the step', async () => {
    const h = await harnesses.create(adapter);
    const hold = deferred();
    const holding = deferred();
    const v1 = defineWorkflow('shipping', async (ctx) => {
      await ctx.step('reserve', async () => 'r');
      await ctx.step('wait', async () => {
        holding.resolve();
        await hold.promise;
      });
      return 'v1';
    });
    const first = h.engine();
    const { workflowId } = await first.start(v1, null);
    await holding.promise;
    await first.stop();

    // A new release changed the code: the first step now has another name.
    const v2 = defineWorkflow('shipping', async (ctx) => {
      await ctx.step('allocate', async () => 'a');
      return 'v2';
    });
    const second = h.engine();
    second.register(v2);
    await second.recover();
    const error = await rejectionOf(second.result(workflowId));
    expect(error.code).toBe(WorkflowErrorCode.failed);
    const stored = (error.details?.error ?? {}) as { code?: string; message?: string };
    expect(stored.code).toBe(WorkflowErrorCode.nonDeterminism);
    expect(stored.message).toMatch(/step 0/);
    expect(stored.message).toMatch(/'allocate'/);
    expect(stored.message).toMatch(/'reserve'/);
    expect((await second.get(workflowId))?.status).toBe('failed');
    hold.resolve();
  });

  it('a transaction step commits its own writes together with its journal entry', async () => {
    const h = await harnesses.create(adapter);
    await h.store.execute('CREATE TABLE accounts (id TEXT PRIMARY KEY, balance BIGINT NOT NULL)');
    await h.store.execute("INSERT INTO accounts VALUES ('alice', 100)");
    const engine = h.engine();
    const wf = defineWorkflow('debit', async (ctx, amount: number) => {
      const after = await ctx.transactionStep('debit', async (tx) => {
        await tx.execute("UPDATE accounts SET balance = balance - $1 WHERE id = 'alice'", [amount]);
        const rows = await tx.query<{ balance: number }>("SELECT balance FROM accounts WHERE id = 'alice'");
        return Number(rows[0]?.balance);
      });
      return after;
    });
    expect(await (await engine.start(wf, 30)).result()).toBe(70);

    // A transaction step that throws leaves no write behind, and the run fails with step_failed.
    const failing = defineWorkflow('debit-fails', async (ctx) => {
      await ctx.transactionStep('debit', async (tx) => {
        await tx.execute("UPDATE accounts SET balance = balance - 50 WHERE id = 'alice'");
        throw new Error('card declined');
      });
    });
    const error = await rejectionOf((await engine.start(failing, null)).result());
    expect(error.message).toMatch(/card declined/);
    const rows = await h.store.query<{ balance: number }>("SELECT balance FROM accounts WHERE id = 'alice'");
    expect(Number(rows[0]?.balance)).toBe(70);
  });

  it('a transaction step whose store call fails transiently does not fail the run: it resumes from the journal', async () => {
    const h = await harnesses.create(adapter);
    await h.store.execute('CREATE TABLE debits (run TEXT NOT NULL)');
    const engine = h.engine({ leaseMs: 1000 });
    let attempts = 0;
    const wf = defineWorkflow('debit-busy', async (ctx) =>
      ctx.transactionStep('debit', async (tx) => {
        attempts++;
        await tx.execute('INSERT INTO debits (run) VALUES ($1)', [ctx.workflowId]);
        // What SQLITE_BUSY or a dropped connection looks like to the step: a retryable store error.
        if (attempts === 1)
          throw new StoreError(StoreErrorCode.busy, 'database is locked', { retryable: true });
        return 'debited';
      }),
    );
    const handle = await engine.start(wf, null);
    await until(() => attempts === 1, 'the first attempt fails');
    // The run halted instead of failing; it is taken over again once its lease ends.
    await h.clock.advance(1000);
    await engine.recover();
    expect(await handle.result()).toBe('debited');
    expect(attempts).toBe(2);
    const rows = await h.store.query<{ n: number }>('SELECT COUNT(*) AS n FROM debits');
    expect(Number(rows[0]?.n)).toBe(1);
    expect((await engine.steps(handle.workflowId)).map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['debit', 'completed', 1],
    ]);
  });

  it('result() waits with a timeout, and stopping the engine ends the wait', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const wf = defineWorkflow('slow', async (ctx) => ctx.sleep(60_000));
    const handle = await engine.start(wf, null);
    const timedOut = rejectionOf(handle.result({ timeoutMs: 1000 }));
    await until(async () => (await handle.get())?.status === 'sleeping', 'the run sleeps');
    await h.clock.advance(1000);
    expect((await timedOut).code).toBe(WorkflowErrorCode.timeout);
    const waiting = rejectionOf(engine.result(handle.workflowId, { timeoutMs: 120_000 }));
    await engine.stop();
    expect((await waiting).code).toBe(WorkflowErrorCode.stopped);
    expect((await rejectionOf(engine.result('missing'))).code).toBe(WorkflowErrorCode.stopped);
  });

  it('lists runs by status and name, newest first', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const ok = defineWorkflow('ok', async () => 'fine');
    const bad = defineWorkflow('bad', async () => {
      throw new Error('boom');
    });
    await (await engine.start(ok, null, { workflowId: 'ok-1' })).result();
    await h.clock.advance(10);
    await rejectionOf((await engine.start(bad, null, { workflowId: 'bad-1' })).result());
    await h.clock.advance(10);
    await (await engine.start(ok, null, { workflowId: 'ok-2' })).result();
    expect((await engine.list()).map((r) => r.id)).toEqual(['ok-2', 'bad-1', 'ok-1']);
    expect((await engine.list({ status: 'failed' })).map((r) => r.id)).toEqual(['bad-1']);
    expect((await engine.list({ name: 'ok', limit: 1 })).map((r) => r.id)).toEqual(['ok-2']);
    expect((await engine.list({ status: ['completed', 'failed'], offset: 1 })).map((r) => r.id)).toEqual([
      'bad-1',
      'ok-1',
    ]);
    const failed = await engine.get('bad-1');
    expect(failed?.error).toMatchObject({ message: 'boom', name: 'Error' });
    await until(async () => (await engine.list({ status: 'running' })).length === 0, 'nothing runs');
  });
});
