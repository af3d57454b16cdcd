/**
 * Runtime events in the metrics: a runtime created with `runtimeEventsToBus(bus)` as its event sink, a
 * bus bound to a Prometheus registry, and real processes — a supervisor restarting a crashing child, a
 * mailbox that overflows and drops — show in the exposition text.
 */
import { describe, expect, it } from 'vitest';
import {
  Supervisor,
  TaskPool,
  VirtualClock,
  createRuntime,
  Pid,
  type Behaviour,
  type RuntimeEvent,
} from '../../src/runtime/index.js';
import {
  bindMetricsToBus,
  bindRuntimeMetrics,
  createEventBus,
  createMetrics,
  emitMailboxDepths,
  runtimeEventsToBus,
  type GarrisonEvents,
} from '../../src/telemetry/index.js';

/** The value of one sample line (`name{labels} value`) in exposition text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A child that crashes on the call `crash` and answers anything else. */
const crashy: Behaviour<null, void> = {
  init: () => null,
  handleCall(msg: unknown, _from, state) {
    if (msg === 'crash') throw new Error('crashed on purpose');
    return { reply: 'ok', state };
  },
};

function node() {
  const clock = new VirtualClock();
  const bus = createEventBus<GarrisonEvents>({ clock });
  const metrics = createMetrics();
  bindMetricsToBus(bus, metrics);
  bindRuntimeMetrics(bus, metrics);
  const names: string[] = [];
  bus.on('*', (e) => {
    names.push(e.name);
  });
  const runtime = createRuntime({ clock, events: runtimeEventsToBus(bus) });
  return { clock, bus, metrics, runtime, names };
}

describe('runtime events to telemetry', () => {
  it('a supervisor restarting a crashing child shows in the restart counter and the process gauge', async () => {
    const { metrics, runtime } = node();
    const sup = await Supervisor.start(
      runtime,
      {
        id: 'workers',
        maxRestarts: 10,
        children: [
          { id: 'crashy', start: (o) => runtime.spawn(crashy, undefined, { ...o, name: 'crashy' }) },
        ],
      },
      { name: 'workers' },
    );
    let text = await metrics.render();
    expect(sample(text, 'garrison_processes_active')).toBe(2);
    expect(sample(text, 'garrison_processes_spawned_total')).toBe(2);
    expect(sample(text, 'garrison_process_restarts_total{supervisor="workers"}')).toBeUndefined();

    for (let i = 0; i < 3; i++) {
      await expect(runtime.call('crashy', 'crash')).rejects.toMatchObject({ code: 'process_exited' });
      await expect(runtime.call('crashy', 'hello')).resolves.toBe('ok'); // the restarted child answers
    }
    text = await metrics.render();
    expect(sample(text, 'garrison_process_restarts_total{supervisor="workers"}')).toBe(3);
    expect(sample(text, 'garrison_process_exits_total{reason="error"}')).toBe(3);
    expect(sample(text, 'garrison_processes_spawned_total')).toBe(5);
    expect(sample(text, 'garrison_processes_active')).toBe(2);

    await sup.stop();
    text = await metrics.render();
    expect(sample(text, 'garrison_processes_active')).toBe(0);
    expect(sample(text, 'garrison_process_exits_total{reason="shutdown"}')).toBe(2);
  });

  it('a supervisor that gives up is counted, and its children are seen to go', async () => {
    const { clock, metrics, runtime, names } = node();
    const sup = await Supervisor.start(runtime, {
      id: 'fragile',
      maxRestarts: 1,
      periodMs: 60_000,
      children: [{ id: 'crashy', start: (o) => runtime.spawn(crashy, undefined, { ...o, name: 'crashy' }) }],
    });
    const supPid = sup.pid?.toString() ?? '';
    await expect(runtime.call('crashy', 'crash')).rejects.toMatchObject({ code: 'process_exited' });
    await clock.advance(0); // the restart settles
    await expect(runtime.call('crashy', 'crash')).rejects.toMatchObject({ code: 'process_exited' });
    await clock.advance(0);
    expect(names.slice(-2)).toEqual(['supervisor.max_intensity', 'process.exited']);
    const text = await metrics.render();
    expect(sample(text, `garrison_process_restarts_total{supervisor="${supPid}"}`)).toBe(1);
    expect(sample(text, `garrison_supervisor_max_intensity_total{supervisor="${supPid}"}`)).toBe(1);
    expect(runtime.processCount).toBe(0);
    expect(sample(text, 'garrison_processes_active')).toBe(0);
  });

  it('mailbox overflows and drops are counted, and mailbox depths can be sampled at scrape time', async () => {
    const { bus, metrics, runtime } = node();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Behaviour<number, void> = {
      init: () => 0,
      async handleCast(_msg: unknown, n) {
        await gate;
        return n + 1;
      },
    };
    const dropping = await runtime.spawn(slow, undefined, { mailboxCapacity: 2, overflow: 'drop' });
    const rejecting = await runtime.spawn(slow, undefined, { mailboxCapacity: 1, overflow: 'reject' });
    for (let i = 0; i < 6; i++) await runtime.cast(dropping, i); // 1 handling, 2 queued, 3 dropped
    await runtime.cast(rejecting, 'a');
    await runtime.cast(rejecting, 'b');
    await expect(runtime.cast(rejecting, 'c')).rejects.toMatchObject({ code: 'mailbox_full' });
    metrics.beforeRender(() => {
      emitMailboxDepths(bus, runtime);
    });

    const text = await metrics.render();
    expect(sample(text, 'garrison_mailbox_drops_total')).toBe(3);
    expect(sample(text, 'garrison_mailbox_overflows_total{policy="reject"}')).toBe(1);
    // Depths: 3 drops and 1 overflow at capacity, plus one sample per live process at this scrape.
    expect(sample(text, 'garrison_mailbox_depth_count')).toBe(6);
    expect(sample(text, 'garrison_mailbox_depth_bucket{le="1"}')).toBe(2); // the reject mailbox, twice
    expect(sample(text, 'garrison_mailbox_depth_bucket{le="2"}')).toBe(6);
    release();
  });

  it('maps every runtime event type to a telemetry event', () => {
    const bus = createEventBus<GarrisonEvents>();
    const seen: Array<{ name: string; payload: unknown }> = [];
    bus.on('*', (e) => {
      seen.push({ name: e.name, payload: e.payload });
    });
    const sink = runtimeEventsToBus(bus);
    const p = new Pid(7);
    const sup = new Pid(1);
    const at = 0;
    const all: RuntimeEvent[] = [
      { type: 'spawn', at, pid: sup, name: 'root' },
      { type: 'spawn', at, pid: p, name: undefined },
      {
        type: 'exit',
        at,
        pid: p,
        name: undefined,
        reason: { error: new Error('boom') },
        discardedMessages: 0,
      },
      { type: 'init_failed', at, pid: p, name: 'w', error: new Error('no db') },
      { type: 'terminate_failed', at, pid: p, error: 'oops' },
      { type: 'unhandled_info', at, pid: p, message: 'stray' },
      { type: 'mailbox_overflow', at, pid: p, policy: 'block', capacity: 10 },
      { type: 'mailbox_drop', at, pid: p, capacity: 10, droppedTotal: 4 },
      { type: 'monitor_leak', at, monitor: { id: 3, target: p, watcher: 'call', createdAt: 0, ageMs: 900 } },
      { type: 'watcher_failed', at, target: p, error: new Error('cb') },
      { type: 'restart', at, supervisor: sup, childId: 'w', oldPid: p, newPid: new Pid(8), reason: 'killed' },
      { type: 'restart_failed', at, supervisor: sup, childId: 'w', error: new Error('start') },
      { type: 'max_restart_intensity', at, supervisor: sup, maxRestarts: 3, periodMs: 5000 },
      { type: 'task_timeout', at, pool: 'io', timeoutMs: 30_000 },
    ];
    for (const e of all) sink(e);
    expect(seen).toEqual([
      { name: 'process.spawned', payload: { pid: '<0.1>' } },
      { name: 'process.spawned', payload: { pid: '<0.7>' } },
      { name: 'process.exited', payload: { pid: '<0.7>', reason: 'error', message: 'error: boom' } },
      { name: 'process.init_failed', payload: { pid: '<0.7>', name: 'w', error: 'no db' } },
      { name: 'process.terminate_failed', payload: { pid: '<0.7>', error: 'oops' } },
      { name: 'process.unhandled_info', payload: { pid: '<0.7>' } },
      { name: 'mailbox.depth', payload: { pid: '<0.7>', depth: 10 } },
      { name: 'mailbox.overflow', payload: { pid: '<0.7>', policy: 'block', capacity: 10 } },
      { name: 'mailbox.depth', payload: { pid: '<0.7>', depth: 10 } },
      { name: 'mailbox.dropped', payload: { pid: '<0.7>', capacity: 10, droppedTotal: 4 } },
      { name: 'monitor.leak', payload: { monitorId: 3, target: '<0.7>', watcher: 'call', ageMs: 900 } },
      { name: 'monitor.watcher_failed', payload: { target: '<0.7>', error: 'cb' } },
      { name: 'process.restarted', payload: { pid: '<0.8>', supervisor: 'root' } },
      { name: 'supervisor.restart_failed', payload: { supervisor: 'root', childId: 'w', error: 'start' } },
      { name: 'supervisor.max_intensity', payload: { supervisor: 'root', maxRestarts: 3, periodMs: 5000 } },
      { name: 'pool.task_timeout', payload: { pool: 'io', timeoutMs: 30_000 } },
    ]);
  });

  it('a task pool timeout from a real pool is counted', async () => {
    const { clock, metrics, runtime } = node();
    const pool = await TaskPool.start(runtime, { name: 'io', concurrency: 1, taskTimeoutMs: 1000 });
    const running = pool.run(() => new Promise(() => undefined)).catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await running).toMatchObject({ code: 'task_timeout' });
    expect(sample(await metrics.render(), 'garrison_pool_task_timeouts_total{pool="io"}')).toBe(1);
    await runtime.shutdown();
  });
});
