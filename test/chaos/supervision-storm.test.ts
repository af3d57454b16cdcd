/**
 * A supervision storm on the virtual clock: children that crash at 1/s and at 10/s under a two-level
 * supervision tree, each crasher owning scheduler timers. At 1/s, under the restart intensity, every crash
 * is answered by exactly one restart for as long as it goes on. At 10/s the intensity is exceeded: the
 * inner supervisor gives up, its parent restarts it, and after its own intensity the whole tree comes
 * down — escalation, not a restart loop: afterwards nothing crashes or restarts any more, and no
 * process, monitor or timer is left behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntime,
  Supervisor,
  VirtualClock,
  type Behaviour,
  type ChildSpec,
  type ExitReason,
  type Pid,
  type RuntimeEvent,
} from '../../src/runtime/index.js';
import { createScheduler } from '../../src/scheduler/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { expectClean, History } from './history.js';
import { scaled } from './support.js';

const CRASHERS = 5;
/** The inner supervisor's intensity: 20 restarts in 10 s. The top's: 3 in 60 s. */
const INNER = { maxRestarts: 20, periodMs: 10_000 };
const TOP = { maxRestarts: 3, periodMs: 60_000 };

describe('supervision storm (virtual clock)', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  /** Runs the storm at `rate` crashes per second for up to `seconds` of virtual time. */
  async function storm(rate: number, seconds: number) {
    const clock = new VirtualClock();
    const events: RuntimeEvent[] = [];
    const runtime = createRuntime({ clock, events: (e) => events.push(e) });
    const store = await openStore('sqlite::memory:');
    stores.push(store);
    const scheduler = createScheduler({ store, runtime, clock, nodeId: 'storm' });
    // Each crasher crashes every `period` ms from its (re)start; the first lives are staggered so that the
    // five together crash at `rate` per second.
    const period = (CRASHERS * 1000) / rate;
    const started = new Set<number>();
    const crasher = (i: number): Behaviour<null, void> => ({
      init: (_args, ctx) => {
        const first = !started.has(i);
        started.add(i);
        scheduler.after(ctx.self, first ? ((i + 1) * period) / CRASHERS : period, 'crash');
        // A timer that must die with its owner.
        scheduler.every(ctx.self, 250, 'beat');
        return null;
      },
      handleInfo(msg: unknown, state) {
        if (msg === 'crash') throw new Error('the storm');
        return state;
      },
    });
    const crashers: ChildSpec[] = Array.from({ length: CRASHERS }, (_, i) => ({
      id: `crasher-${i}`,
      start: (o) => runtime.spawn(crasher(i), undefined, o),
    }));
    const steady: ChildSpec = {
      id: 'steady',
      start: (o) =>
        runtime.spawn(
          {
            init: (_args, ctx) => void scheduler.every(ctx.self, 1000, 'tick'),
            handleInfo: (_msg: unknown, state: undefined) => state,
          } satisfies Behaviour<undefined, void>,
          undefined,
          o,
        ),
    };
    const top = await Supervisor.start(runtime, {
      id: 'top',
      ...TOP,
      children: [steady, Supervisor.childSpec(runtime, { id: 'inner', ...INNER, children: crashers })],
    });
    let down: ExitReason | undefined;
    runtime.monitor(top.pid!, (d) => (down = d.reason));
    for (let t = 0; t < seconds * 10 && down === undefined; t++) await clock.advance(100);
    const eventsAtEnd = events.length;
    // Time goes on: a tree that is down stays down, one that is up keeps answering each crash.
    await clock.advance(60_000);
    return { clock, runtime, scheduler, events, top, down: () => down, eventsAtEnd, started };
  }

  /** Crashes (the exits of crashers with an error) and what answered each: a restart or an escalation. */
  function judge(history: History, events: readonly RuntimeEvent[]): { crashes: number; restarts: number } {
    const crasherPids = new Set<Pid>();
    for (const e of events)
      if (e.type === 'restart' && e.childId.startsWith('crasher-')) crasherPids.add(e.newPid);
    const restartedFrom = new Map<Pid, number>();
    const gaveUpAt = new Set<number>();
    for (const e of events) {
      if (e.type === 'restart' && e.oldPid !== undefined)
        restartedFrom.set(e.oldPid, (restartedFrom.get(e.oldPid) ?? 0) + 1);
      if (e.type === 'max_restart_intensity') gaveUpAt.add(e.at);
    }
    let crashes = 0;
    for (const e of events) {
      if (e.type !== 'exit' || typeof e.reason !== 'object' || !('error' in e.reason)) continue;
      crashes++;
      const key = `${String(e.pid)}`;
      history.ask(key);
      history.acknowledge(key);
      history.fault('crash');
      for (let n = restartedFrom.get(e.pid) ?? 0; n > 0; n--) history.observe(key);
      if (!restartedFrom.has(e.pid) && gaveUpAt.has(e.at)) history.observe(key, 'escalated');
    }
    const restarts = events.filter((e) => e.type === 'restart').length;
    return { crashes, restarts };
  }

  /** Nothing left behind once the tree is down: no process, no monitor, no timer. */
  function leaks(history: History, run: Awaited<ReturnType<typeof storm>>): void {
    history.watch('process left');
    history.watch('monitor left');
    history.watch('timer left');
    for (const pid of run.runtime.pids()) history.violation('process left', String(pid));
    for (const m of run.runtime.checkMonitorLeaks(0)) history.violation('monitor left', JSON.stringify(m));
    for (const t of run.scheduler.list()) history.violation('timer left', JSON.stringify(t));
    const stats = run.scheduler.stats();
    if (stats.processTimers + stats.ownerMonitors > 0)
      history.violation('timer left', `scheduler: ${JSON.stringify(stats)}`);
    if (run.clock.pendingTimers > 0) history.violation('timer left', `clock: ${run.clock.pendingTimers}`);
  }

  it(
    'children crashing at 1/s under the intensity: every crash restarted exactly once for three minutes, and nothing left behind once the tree is stopped',
    { timeout: 60_000 },
    async () => {
      const history = new History('supervision storm at 1 crash/s (virtual clock, 3 min)');
      const run = await storm(1, scaled(120));
      expect(run.down()).toBeUndefined();
      const { crashes, restarts } = judge(history, run.events);
      history.watch('gave up');
      for (const e of run.events)
        if (e.type === 'max_restart_intensity') history.violation('gave up', String(e.supervisor));
      await run.top.stop();
      leaks(history, run);
      history.figure('restarts', restarts);
      const report = history.check({ evidence: 'observed', duplicates: 'forbidden' });
      expectClean(report);
      expect(crashes).toBeGreaterThanOrEqual(scaled(120) + 60 - CRASHERS);
    },
  );

  it(
    'children crashing at 10/s past the intensity: the inner supervisor gives up, the top restarts it three times and then gives up too; no restart loop, nothing left behind',
    { timeout: 60_000 },
    async () => {
      const history = new History('supervision storm at 10 crashes/s (virtual clock)');
      const run = await storm(10, scaled(60));
      expect(run.down()).toBe('reached_max_restart_intensity');
      const { crashes, restarts } = judge(history, run.events);
      // After the tree came down, a minute of time brought no crash and no restart.
      history.watch('restart loop');
      for (const e of run.events.slice(run.eventsAtEnd))
        if (e.type === 'restart' || e.type === 'exit')
          history.violation('restart loop', `${e.type} at ${e.at}`);
      leaks(history, run);
      const gaveUp = run.events.filter((e) => e.type === 'max_restart_intensity').length;
      const innerRestarts = run.events.filter((e) => e.type === 'restart' && e.childId === 'inner').length;
      history.figure('restarts', restarts);
      history.figure('inner restarted by the top', innerRestarts);
      history.figure('supervisors that gave up', gaveUp);
      history.figure(
        'virtual seconds until the tree was down',
        (run.events[run.eventsAtEnd - 1]!.at - run.events[0]!.at) / 1000,
      );
      const report = history.check({ evidence: 'observed', duplicates: 'forbidden' });
      expectClean(report);
      expect(innerRestarts).toBe(TOP.maxRestarts);
      expect(gaveUp).toBe(TOP.maxRestarts + 2);
      // Bounded: each life of the inner supervisor took at most its intensity, plus the crashes of the
      // moment that broke it (the crashers of a restarted group crash together).
      expect(crashes).toBeLessThanOrEqual((TOP.maxRestarts + 1) * (INNER.maxRestarts + CRASHERS));
    },
  );
});
