import { describe, expect, it } from 'vitest';
import { Supervisor, TaskPool } from '../../src/runtime/index.js';
import { deferred, harness, like } from './support.js';

describe('TaskPool', () => {
  it('runs a task and returns its result', async () => {
    const { rt } = harness();
    const pool = await TaskPool.start(rt, { name: 'io' });
    await expect(pool.run(async () => 21 * 2)).resolves.toBe(42);
    expect(await pool.stats()).toMatchObject({ running: 0, queued: 0, completed: 1, failed: 0, timedOut: 0 });
  });

  it('runs at most `concurrency` tasks at once and queues the rest in order', async () => {
    const { rt, settle } = harness();
    const pool = await TaskPool.start(rt, { name: 'io', concurrency: 2 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const results = gates.map((g, i) =>
      pool.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect(await pool.stats()).toMatchObject({ running: 2, queued: 2 });
    gates[1]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    await expect(Promise.all(results)).resolves.toEqual([0, 1, 2, 3]);
    expect(await pool.stats()).toMatchObject({ running: 0, queued: 0, completed: 4 });
  });

  it('times a task out with the virtual clock: the caller gets task_timeout and the task its abort signal', async () => {
    const { rt, clock, settle, ofType } = harness();
    const pool = await TaskPool.start(rt, { name: 'io', concurrency: 1, taskTimeoutMs: 1000 });
    const finish = deferred();
    let signal: AbortSignal | undefined;
    const slow = pool.run(async (s) => {
      signal = s;
      await finish.promise; // ignores the signal on purpose
      return 'late';
    });
    const outcome = expect(slow).rejects.toMatchObject({ code: 'task_timeout', retryable: true });
    const next = pool.run(async () => 'next');
    await settle();
    await clock.advance(1000);
    await outcome;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: 'task_timeout' });
    // The slot is free again: the queued task ran.
    await expect(next).resolves.toBe('next');
    expect(await pool.stats()).toMatchObject({ timedOut: 1, abandoned: 1, completed: 1 });
    expect(ofType('task_timeout')).toEqual([like({ pool: 'io', timeoutMs: 1000 })]);
    finish.resolve();
    await settle();
    expect(await pool.stats()).toMatchObject({ abandoned: 0, completed: 1 });
  });

  it('reports a task that throws as task_crashed with the cause, and keeps running', async () => {
    const { rt } = harness();
    const pool = await TaskPool.start(rt, { name: 'io' });
    const error = await pool
      .run(() => {
        throw new Error('bad input');
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'task_crashed',
      cause: like({ message: 'bad input' }),
    });
    await expect(pool.run(() => 'still fine')).resolves.toBe('still fine');
    expect(await pool.stats()).toMatchObject({ failed: 1, completed: 1 });
  });

  it('fails with pool_not_running and never runs the task when the pool is not running', async () => {
    const { rt } = harness();
    let ran = false;
    const work = () => {
      ran = true;
    };
    const never = TaskPool.of(rt, 'never-started');
    await expect(never.run(work)).rejects.toMatchObject({ code: 'pool_not_running' });
    await expect(never.stats()).rejects.toMatchObject({ code: 'pool_not_running' });
    const pool = await TaskPool.start(rt, { name: 'io' });
    await pool.stop();
    expect(pool.running).toBe(false);
    await expect(pool.run(work)).rejects.toMatchObject({ code: 'pool_not_running' });
    expect(ran).toBe(false);
  });

  it('when the pool is killed, waiting callers get pool_not_running at once and running tasks are aborted', async () => {
    const { rt, settle } = harness();
    const pool = await TaskPool.start(rt, { name: 'io', concurrency: 1 });
    let signal: AbortSignal | undefined;
    let queuedRan = false;
    const running = pool.run((s) => {
      signal = s;
      return new Promise(() => undefined);
    });
    const queued = pool.run(() => {
      queuedRan = true;
    });
    await settle();
    rt.kill(pool.name);
    await expect(running).rejects.toMatchObject({
      code: 'pool_not_running',
      cause: like({ reason: 'killed' }),
    });
    await expect(queued).rejects.toMatchObject({ code: 'pool_not_running' });
    expect(signal?.aborted).toBe(true);
    expect(queuedRan).toBe(false);
  });

  it('a graceful stop aborts running tasks and hands each caller its outcome', async () => {
    const { rt, settle } = harness();
    const pool = await TaskPool.start(rt, { name: 'io' });
    const cooperative = pool.run(
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => resolve('wrapped up'));
        }),
    );
    await settle();
    await pool.stop();
    await expect(cooperative).resolves.toBe('wrapped up');
  });

  it('under a supervisor, is restarted after a crash and the same handle works again', async () => {
    const { rt, settle } = harness();
    await Supervisor.start(rt, { id: 'root', children: [TaskPool.childSpec(rt, { name: 'io' })] });
    const pool = TaskPool.of(rt, 'io');
    const first = rt.whereis('io');
    rt.exit('io', { error: new Error('pool crashed') });
    await settle();
    expect(rt.whereis('io')).not.toBe(first);
    await expect(pool.run(() => 'ok')).resolves.toBe('ok');
  });

  it('refuses work past maxQueued with pool_queue_full', async () => {
    const { rt, settle } = harness();
    const pool = await TaskPool.start(rt, { name: 'io', concurrency: 1, maxQueued: 1 });
    const gate = deferred();
    const a = pool.run(() => gate.promise);
    await settle();
    const b = pool.run(() => 'b');
    await settle();
    await expect(pool.run(() => 'c')).rejects.toMatchObject({
      code: 'pool_queue_full',
      details: { maxQueued: 1 },
    });
    gate.resolve();
    await a;
    await expect(b).resolves.toBe('b');
  });

  it('runBatch returns every outcome in input order and caps how many of the batch run at once', async () => {
    const { rt } = harness();
    const pool = await TaskPool.start(rt, { name: 'io', concurrency: 10 });
    let inFlight = 0;
    let maxInFlight = 0;
    const fns = Array.from({ length: 12 }, (_, i) => async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      if (i === 5) throw new Error('five');
      return i;
    });
    const results = await pool.runBatch(fns, { concurrency: 3 });
    expect(maxInFlight).toBe(3);
    expect(results).toHaveLength(12);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 0 });
    expect(results[5]).toMatchObject({ status: 'rejected', reason: { code: 'task_crashed' } });
    expect(results[11]).toEqual({ status: 'fulfilled', value: 11 });
    expect(await pool.stats()).toMatchObject({ completed: 11, failed: 1, running: 0, queued: 0 });
    await expect(pool.runBatch(fns, { concurrency: 0 })).rejects.toThrow(/concurrency/);
  });

  it('validates its options', async () => {
    const { rt } = harness();
    await expect(TaskPool.start(rt, { name: 'io', concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(TaskPool.start(rt, { name: '' })).rejects.toThrow(/name/);
  });
});
