import { afterEach, describe, expect, it } from 'vitest';
import {
  VirtualClock,
  createRuntime,
  type Behaviour,
  type Pid,
  type Runtime,
} from '../../src/runtime/index.js';
import { createScheduler, type SchedulerManager } from '../../src/scheduler/index.js';
import type { Store } from '../../src/store/index.js';
import { sqliteAdapter } from '../support/stores.js';

interface Received {
  to: string;
  msg: unknown;
  at: number;
}

/** A process that records every info message it gets, with the clock time. */
function collector(log: Received[], clock: VirtualClock, label: string): Behaviour<null, void> {
  return {
    init: () => null,
    handleInfo(msg: unknown, state) {
      log.push({ to: label, msg, at: clock.now() });
      return state;
    },
  };
}

describe('process timers', () => {
  const open: Array<{ scheduler: SchedulerManager; store: Store; rt: Runtime }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.scheduler.shutdown();
      await o.rt.shutdown();
      await o.store.close();
    }
  });

  async function setup(options: { mailboxCapacity?: number } = {}) {
    const clock = new VirtualClock();
    const rt = createRuntime({ clock, ...options });
    const store = await sqliteAdapter.open();
    const scheduler = createScheduler({ store, clock, runtime: rt, nodeId: 'node-a' });
    open.push({ scheduler, store, rt });
    const log: Received[] = [];
    const spawn = (label: string, name?: string): Promise<Pid> =>
      rt.spawn(collector(log, clock, label), undefined, name === undefined ? {} : { name });
    const t0 = clock.now();
    /** Messages received so far as `label:msg@ms-since-start`. */
    const seen = () => log.map((r) => `${r.to}:${String(r.msg)}@${r.at - t0}`);
    return { clock, rt, store, scheduler, log, spawn, seen };
  }

  it('timers fire in due-time order, ties in the order they were made', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    const b = await spawn('b');
    scheduler.after(a, 300, 'last');
    scheduler.after(b, 100, 'first');
    scheduler.after(a, 100, 'second');
    scheduler.after(b, 200, 'third');
    scheduler.after(a, 0, 'now');
    await clock.advance(99);
    expect(seen()).toEqual(['a:now@0']);
    await clock.advance(201);
    expect(seen()).toEqual(['a:now@0', 'b:first@100', 'a:second@100', 'b:third@200', 'a:last@300']);
    expect(scheduler.list()).toEqual([]);
  });

  it('all process timers share one clock timer, re-armed for the earliest due time', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const owners = [await spawn('a'), await spawn('b'), await spawn('c')];
    const refs = [];
    for (let i = 0; i < 300; i++) {
      refs.push(scheduler.after(owners[i % 3] as Pid, 1000 + i, i));
      scheduler.every(owners[i % 3] as Pid, 5000 + i, `e${i}`);
    }
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDueAt()).toBe(clock.now() + 1000);
    scheduler.after(owners[0] as Pid, 10, 'early');
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDueAt()).toBe(clock.now() + 10);
    for (const ref of refs) scheduler.cancel(ref);
    await clock.advance(10);
    expect(seen()).toEqual(['a:early@10']);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDueAt()).toBe(clock.now() - 10 + 5000);
  });

  it('every fires each interval; updateInterval changes the period; runNow fires at once and keeps the schedule', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    const ref = scheduler.every(a, 1000, 'tick');
    await clock.advance(3000);
    expect(seen()).toEqual(['a:tick@1000', 'a:tick@2000', 'a:tick@3000']);

    scheduler.runNow(ref);
    await clock.advance(0);
    expect(seen().slice(3)).toEqual(['a:tick@3000']);
    await clock.advance(1000); // the schedule is unchanged: the next tick is still at 4000
    expect(seen().slice(4)).toEqual(['a:tick@4000']);

    scheduler.updateInterval(ref, 250); // counted from the last scheduled firing (4000)
    await clock.advance(600);
    expect(seen().slice(5)).toEqual(['a:tick@4250', 'a:tick@4500']);
    scheduler.updateInterval(ref, 10_000);
    await clock.advance(9_800);
    expect(seen().slice(7)).toEqual([]);
    await clock.advance(100);
    expect(seen().slice(7)).toEqual(['a:tick@14500']);
    expect(scheduler.list()).toMatchObject([
      { id: ref.id, kind: 'every', intervalMs: 10_000, firedCount: 8 },
    ]);
  });

  it('updateInterval to a period already over fires at once, never in the past', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    const ref = scheduler.every(a, 1000, 'tick');
    await clock.advance(700);
    scheduler.updateInterval(ref, 500);
    expect(scheduler.list()[0]?.dueAt).toBe(clock.now());
    await clock.advance(0);
    expect(seen()).toEqual(['a:tick@700']);
    await clock.advance(500);
    expect(seen()).toEqual(['a:tick@700', 'a:tick@1200']);
  });

  it('every with runNow sends the first message at once', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    scheduler.every(a, 1000, 'tick', { runNow: true });
    await clock.advance(2000);
    expect(seen()).toEqual(['a:tick@0', 'a:tick@1000', 'a:tick@2000']);
  });

  it('runNow of an after timer fires it early and finishes it', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    const ref = scheduler.after(a, 1000, 'once');
    scheduler.runNow(ref);
    await clock.advance(5000);
    expect(seen()).toEqual(['a:once@0']);
    expect(scheduler.list()).toEqual([]);
    expect(scheduler.cancel(ref)).toBe(false);
  });

  it('cancel stops a timer before it fires; a finished timer cancels to false', async () => {
    const { clock, scheduler, spawn, seen } = await setup();
    const a = await spawn('a');
    const once = scheduler.after(a, 100, 'once');
    const tick = scheduler.every(a, 100, 'tick');
    const kept = scheduler.after(a, 50, 'kept');
    expect(scheduler.cancel(once)).toBe(true);
    await clock.advance(250);
    expect(scheduler.cancel(tick)).toBe(true);
    await clock.advance(1000);
    expect(seen()).toEqual(['a:kept@50', 'a:tick@100', 'a:tick@200']);
    expect(scheduler.cancel(once)).toBe(false);
    expect(scheduler.cancel(kept)).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a timer dies with its owner: nothing is sent, listed or monitored afterwards', async () => {
    const { clock, rt, scheduler, spawn, seen } = await setup();
    const a = await spawn('a', 'worker');
    const b = await spawn('b');
    scheduler.every('worker', 100, 'tick');
    scheduler.after(a, 1000, 'late');
    scheduler.after(b, 1000, 'b-late');
    expect(rt.monitorsOlderThan(0).map((m) => m.watcher)).toEqual(['timers', 'timers']);
    await clock.advance(100);
    await rt.stop(a);
    expect(scheduler.list({ owner: a })).toEqual([]);
    expect(scheduler.list().map((t) => t.owner)).toEqual([b]);
    expect(rt.monitorsOlderThan(0).map((m) => m.target)).toEqual([b]);

    // A new process under the same name is not the owner: the old timers stay dead.
    await spawn('a2', 'worker');
    await clock.advance(2000);
    expect(seen()).toEqual(['a:tick@100', 'b:b-late@1000']);
    expect(rt.monitorCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an owner crash removes its timers too', async () => {
    const { clock, rt, scheduler } = await setup();
    const crasher = await rt.spawn(
      {
        init: () => null,
        handleInfo() {
          throw new Error('boom');
        },
      },
      undefined,
    );
    scheduler.every(crasher, 100, 'tick');
    scheduler.after(crasher, 10_000, 'never');
    await clock.advance(100);
    expect(rt.isAlive(crasher)).toBe(false);
    expect(scheduler.list()).toEqual([]);
    expect(rt.monitorCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('the owner monitor is released when the last timer of the owner is cancelled', async () => {
    const { rt, scheduler, spawn } = await setup();
    const a = await spawn('a');
    const r1 = scheduler.after(a, 100, 'x');
    const r2 = scheduler.every(a, 100, 'y');
    expect(rt.monitorCount).toBe(1); // one per owner, not one per timer
    scheduler.cancel(r1);
    expect(rt.monitorCount).toBe(1);
    scheduler.cancel(r2);
    expect(rt.monitorCount).toBe(0);
    scheduler.after(a, 100, 'z');
    expect(scheduler.cancelOwner(a)).toBe(1);
    expect(rt.monitorCount).toBe(0);
    expect(scheduler.stats()).toEqual({ processTimers: 0, ownerMonitors: 0, armed: false });
  });

  it('list shows every timer or one owner’s, by pid or by name, soonest first', async () => {
    const { scheduler, spawn, clock } = await setup();
    const a = await spawn('a', 'alpha');
    const b = await spawn('b');
    const ra = scheduler.every(a, 500, 'tick');
    const rb = scheduler.after(b, 200, 'once');
    const ra2 = scheduler.after('alpha', 100, 'soon');
    const now = clock.now();
    expect(scheduler.list()).toEqual([
      { id: ra2.id, owner: a, kind: 'after', dueAt: now + 100, intervalMs: null, firedCount: 0 },
      { id: rb.id, owner: b, kind: 'after', dueAt: now + 200, intervalMs: null, firedCount: 0 },
      { id: ra.id, owner: a, kind: 'every', dueAt: now + 500, intervalMs: 500, firedCount: 0 },
    ]);
    expect(scheduler.list({ owner: 'alpha' }).map((t) => t.id)).toEqual([ra2.id, ra.id]);
    expect(scheduler.list({ owner: b }).map((t) => t.id)).toEqual([rb.id]);
    expect(scheduler.list({ owner: 'nobody' })).toEqual([]);
    expect(scheduler.cancelOwner('alpha')).toBe(2);
    expect(scheduler.list().map((t) => t.id)).toEqual([rb.id]);
  });

  it('bad input fails with a typed error and changes nothing', async () => {
    const { clock, rt, scheduler, spawn, store } = await setup();
    const a = await spawn('a');
    const ref = scheduler.every(a, 100, 'tick');
    const once = scheduler.after(a, 50, 'once');
    const before = scheduler.list();
    const other = createScheduler({ store, clock, runtime: rt, nodeId: 'other' });
    const foreign = other.after(a, 10, 'foreign');
    other.cancel(foreign);

    expect(() => scheduler.after(a, -1, 'x')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => scheduler.after(a, Number.NaN, 'x')).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => scheduler.every(a, 1.5, 'x')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => scheduler.every(a, 0, 'x')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => scheduler.every(a, 10, 'x', { runNow: 'yes' } as never)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => scheduler.updateInterval(ref, -5)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => scheduler.updateInterval(ref, Number.NaN)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => scheduler.updateInterval(once, 10)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => scheduler.updateInterval(foreign, 10)).toThrow(
      expect.objectContaining({ code: 'timer_not_found' }),
    );
    expect(() => scheduler.runNow(foreign)).toThrow(expect.objectContaining({ code: 'timer_not_found' }));
    expect(() => scheduler.cancel(foreign)).toThrow(expect.objectContaining({ code: 'timer_not_found' }));
    expect(() => scheduler.cancel({ id: ref.id, owner: a })).toThrow(
      expect.objectContaining({ code: 'timer_not_found' }),
    );
    expect(() => scheduler.after('nobody', 10, 'x')).toThrow(expect.objectContaining({ code: 'noproc' }));
    expect(() => scheduler.list({ owner: 42 } as never)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );

    expect(scheduler.list()).toEqual(before);
    expect(rt.monitorCount).toBe(1);
    await clock.advance(50);
    expect(scheduler.list().map((t) => t.firedCount)).toEqual([0]);
    expect(() => scheduler.runNow(once)).toThrow(expect.objectContaining({ code: 'timer_not_found' }));
    expect(() => scheduler.updateInterval(once, 10)).toThrow(
      expect.objectContaining({ code: 'timer_not_found' }),
    );
  });

  it('a refused delivery is reported and the timer carries on', async () => {
    const clock = new VirtualClock();
    const rt = createRuntime({ clock });
    const store = await sqliteAdapter.open();
    const errors: string[] = [];
    const scheduler = createScheduler({
      store,
      clock,
      runtime: rt,
      nodeId: 'n',
      onDeliveryError: (timer, error) => errors.push(`${timer.id}:${(error as { code?: string }).code}`),
    });
    open.push({ scheduler, store, rt });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const got: unknown[] = [];
    const slow = await rt.spawn(
      {
        init: () => null,
        async handleInfo(msg: unknown, state) {
          await gate;
          got.push(msg);
          return state;
        },
      },
      undefined,
      { mailboxCapacity: 1 },
    );
    const ref = scheduler.every(slow, 10, 'tick');
    await clock.advance(40); // one in the handler, one queued, the rest refused
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e === `${ref.id}:mailbox_full`)).toBe(true);
    release();
    await clock.advance(10);
    expect(got.length).toBeGreaterThanOrEqual(3);
    expect(scheduler.list()).toHaveLength(1);
  });

  it('shutdown cancels every timer, releases every monitor and leaves no clock timer', async () => {
    const { clock, rt, scheduler, spawn, seen } = await setup();
    const owners = [await spawn('a'), await spawn('b'), await spawn('c')];
    for (const [i, pid] of owners.entries()) {
      scheduler.after(pid, 100 * (i + 1), 'once');
      scheduler.every(pid, 50, 'tick');
    }
    await scheduler.durable.schedule({ id: 'd', topic: 'later', delayMs: 60_000 });
    scheduler.durable.on('later', () => undefined);
    await scheduler.start();
    expect(rt.monitorCount).toBe(3);
    await scheduler.shutdown();
    expect(scheduler.status).toBe('stopped');
    expect(scheduler.list()).toEqual([]);
    expect(rt.monitorCount).toBe(0);
    expect(scheduler.stats()).toEqual({ processTimers: 0, ownerMonitors: 0, armed: false });
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(120_000);
    expect(seen()).toEqual([]);
    expect(() => scheduler.after(owners[0] as Pid, 10, 'x')).toThrow(
      expect.objectContaining({ code: 'scheduler_stopped' }),
    );
    // Durable timers are promises to the node's future self: they stay in the store.
    expect((await scheduler.durable.list()).map((t) => t.id)).toEqual(['d']);
  });
});
