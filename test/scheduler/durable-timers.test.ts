import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock.js';
import { DurableTimers, nextCronTime, type TimerFiring } from '../../src/scheduler/durable-timers.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { advanceAndDrain } from './support.js';

describe.each(adapters)('durable timers on $name', (adapter) => {
  const open: Array<{ timers?: DurableTimers; store: Store }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.timers?.stop();
      await o.store.close();
    }
  });

  /** Moves virtual time on, letting every open node's firings finish at each due time. */
  function advance(clock: VirtualClock, ms: number): Promise<void> {
    return advanceAndDrain(
      clock,
      open.flatMap((o) => (o.timers === undefined ? [] : [o.timers])),
      ms,
    );
  }

  async function setup(clock = new VirtualClock(), url?: string) {
    const store =
      url === undefined
        ? await adapter.open()
        : await (await import('../../src/store/index.js')).openStore(url);
    const timers = new DurableTimers({ store, clock, nodeId: 'node-a' });
    open.push({ timers, store });
    return { store, timers, clock };
  }

  it('fires a delayed timer once at its time and then removes it', async () => {
    const { timers, clock } = await setup();
    const fired: TimerFiring[] = [];
    timers.on('ping', (f) => {
      fired.push(f);
    });
    await timers.start();
    await timers.schedule({ id: 't1', topic: 'ping', delayMs: 5000, payload: { n: 1 } });
    await advance(clock, 4999);
    expect(fired).toHaveLength(0);
    await advance(clock, 1);
    expect(fired.map((f) => f.payload)).toEqual([{ n: 1 }]);
    await advance(clock, 60_000);
    expect(fired).toHaveLength(1);
    expect(await timers.list()).toEqual([]);
  });

  it('a timer survives a restart and fires at once when overdue', async () => {
    const url = adapter.freshUrl();
    const clock = new VirtualClock();
    const first = await setup(clock, url);
    await first.timers.schedule({ id: 'later', topic: 'wake', delayMs: 10_000 });
    await first.timers.stop();
    await first.store.close();
    open.length = 0;

    clock.setTimer(0, () => undefined);
    await clock.advance(3_600_000); // the node was down for an hour
    const second = await setup(clock, url);
    const fired: string[] = [];
    second.timers.on('wake', (f) => {
      fired.push(f.id);
    });
    await second.timers.start();
    await advance(clock, 0);
    expect(fired).toEqual(['later']);
  });

  it('an interval timer fires every interval and an hour of schedules runs in virtual time', async () => {
    const { timers, clock } = await setup();
    let count = 0;
    timers.on('tick', () => {
      count++;
    });
    await timers.start();
    await timers.schedule({ id: 'every-minute', topic: 'tick', intervalMs: 60_000 });
    await advance(clock, 3_600_000);
    expect(count).toBe(60);
    const info = await timers.get('every-minute');
    expect(info?.firedCount).toBe(60);
  });

  it('a cron timer fires at the times its pattern names', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const { timers } = await setup(clock);
    const dueTimes: number[] = [];
    timers.on('cron', (f) => {
      dueTimes.push(f.dueAt);
    });
    await timers.start();
    await timers.schedule({ id: 'quarterly', topic: 'cron', cron: '*/15 * * * *', timezone: 'UTC' });
    await advance(clock, 3_600_000);
    expect(dueTimes.map((t) => new Date(t).toISOString())).toEqual([
      '2026-01-01T00:15:00.000Z',
      '2026-01-01T00:30:00.000Z',
      '2026-01-01T00:45:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
  });

  it('missed cron runs: run_once fires one catch-up, skip fires none', async () => {
    const url = adapter.freshUrl();
    const clock = new VirtualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const first = await setup(clock, url);
    await first.timers.schedule({ id: 'a', topic: 'c', cron: '* * * * *', missedPolicy: 'run_once' });
    await first.timers.schedule({ id: 'b', topic: 'c', cron: '* * * * *', missedPolicy: 'skip' });
    await first.store.close();
    open.length = 0;
    clock.setTimer(0, () => undefined);
    await clock.advance(10 * 60_000 + 30_000); // ten missed minutes

    const second = await setup(clock, url);
    const fired: string[] = [];
    second.timers.on('c', (f) => {
      fired.push(f.id);
    });
    await second.timers.start();
    await advance(clock, 0);
    expect(fired).toEqual(['a']);
    await advance(clock, 30_000); // the next minute boundary: both fire on time
    expect(fired.sort()).toEqual(['a', 'a', 'b']);
  });

  it('a failing handler is retried with backoff and the error is recorded', async () => {
    const { timers, clock } = await setup();
    const attempts: number[] = [];
    timers.on('flaky', (f) => {
      attempts.push(f.attempt);
      if (f.attempt < 3) throw new Error(`failure ${f.attempt}`);
    });
    await timers.start();
    await timers.schedule({ id: 'f', topic: 'flaky', delayMs: 0 });
    await advance(clock, 0);
    expect(attempts).toEqual([1]);
    expect((await timers.get('f'))?.lastError).toBe('failure 1');
    await advance(clock, 1000);
    expect(attempts).toEqual([1, 2]);
    await advance(clock, 2000);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await timers.get('f')).toBeUndefined();
  });

  it('cancel and cancelOwner remove timers before they fire', async () => {
    const { timers, clock } = await setup();
    const fired: string[] = [];
    timers.on('x', (f) => {
      fired.push(f.id);
    });
    await timers.start();
    await timers.schedule({ id: 'one', topic: 'x', delayMs: 100 });
    await timers.schedule({ id: 'two', topic: 'x', delayMs: 100, owner: 'agent-7' });
    await timers.schedule({ id: 'three', topic: 'x', delayMs: 100, owner: 'agent-7' });
    expect(await timers.cancel('one')).toBe(true);
    expect(await timers.cancelOwner('agent-7')).toBe(2);
    await advance(clock, 1000);
    expect(fired).toEqual([]);
  });

  it('a timer scheduled in a rolled-back transaction never exists', async () => {
    const { timers, store } = await setup();
    await expect(
      store.transaction(async (tx) => {
        await timers.schedule({ id: 'ghost', topic: 'x', delayMs: 10 }, tx);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await timers.get('ghost')).toBeUndefined();
  });

  it('bad timer specs are rejected with a specific error and nothing is written', async () => {
    const { timers } = await setup();
    await expect(timers.schedule({ topic: 'x', cron: 'not a cron' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(timers.schedule({ topic: '', delayMs: 5 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(timers.schedule({ topic: 'x', delayMs: -1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await timers.list()).toEqual([]);
  });

  // On SQLite the two nodes are two stores on one file (one write queue per file per process); on
  // PostgreSQL, two pools on one schema claiming with SKIP LOCKED.
  it('two nodes sharing a store fire each due time exactly once', async () => {
    const url = adapter.freshUrl();
    const clock = new VirtualClock();
    const a = await setup(clock, url);
    const bStore = await (await import('../../src/store/index.js')).openStore(url);
    // Small batches so the two nodes' claims interleave.
    const b = new DurableTimers({ store: bStore, clock, nodeId: 'node-b', batchSize: 3 });
    open.push({ timers: b, store: bStore });
    const fired: Array<{ node: string; id: string; dueAt: number }> = [];
    a.timers.on('job', (f) => {
      fired.push({ node: 'a', id: f.id, dueAt: f.dueAt });
    });
    b.on('job', (f) => {
      fired.push({ node: 'b', id: f.id, dueAt: f.dueAt });
    });
    await a.timers.start();
    await b.start();
    for (let i = 0; i < 20; i++) await a.timers.schedule({ id: `j${i}`, topic: 'job', delayMs: 1000 });
    await a.timers.schedule({ id: 'every-second', topic: 'job', intervalMs: 1000 });
    await advance(clock, 1000);
    b.poke();
    a.timers.poke();
    await advance(clock, 9000);

    const once = fired.filter((f) => f.id !== 'every-second').map((f) => f.id);
    expect(once.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `j${i}`).sort());
    const ticks = fired.filter((f) => f.id === 'every-second').map((f) => f.dueAt - clock.now());
    expect(ticks).toEqual([-9000, -8000, -7000, -6000, -5000, -4000, -3000, -2000, -1000, 0]);
    expect((await b.get('every-second'))?.firedCount).toBe(10);
  });
});

describe('cron times', () => {
  it('computes the next time strictly after the given instant', () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(nextCronTime('0 * * * *', at, 'UTC')).toBe(Date.UTC(2026, 0, 1, 1, 0, 0));
  });
});
