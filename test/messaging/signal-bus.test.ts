import { afterEach, describe, expect, it } from 'vitest';
import {
  createSignalBus,
  DropPolicy,
  SIGNAL_DROPPED,
  SIGNAL_FAILED,
  type Signal,
  type SignalBus,
  type SignalDrop,
  type SignalFailure,
} from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { deferred } from './helpers.js';

/** Lets queued handlers and promise chains run (the bus does no I/O). */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('the signal bus', () => {
  let bus: SignalBus;
  let clock: VirtualClock;
  afterEach(async () => {
    await bus.close();
  });
  function newBus(): SignalBus {
    clock = new VirtualClock();
    bus = createSignalBus({ clock, source: 'garrison://test' });
    return bus;
  }

  /** A subscriber whose handler holds the first signal until `release`, recording every signal. */
  function stalled(policy: DropPolicy, capacity: number, options: { blockTimeoutMs?: number } = {}) {
    const started = deferred();
    const release = deferred();
    const seen: unknown[] = [];
    const sub = bus.subscribe(
      'job.*',
      async (s) => {
        seen.push(s.data);
        started.resolve();
        await release.promise;
      },
      { policy, capacity, name: `stalled ${policy}`, ...options },
    );
    return { sub, seen, started, release };
  }

  it('publishes CloudEvents-shaped signals, filling id, time, source and specversion', async () => {
    newBus();
    const got: Signal[] = [];
    bus.subscribe('agent.started', (s) => void got.push(s), { policy: DropPolicy.dropNewest });
    const receipt = await bus.publish({ type: 'agent.started', data: { agent: 'a-1' }, subject: 'a-1' });
    await settle();
    expect(receipt).toMatchObject({ matched: 1, accepted: 1, dropped: 0 });
    expect(got).toEqual([
      {
        specversion: '1.0',
        id: receipt.signal.id,
        type: 'agent.started',
        source: 'garrison://test',
        time: new Date(clock.now()).toISOString(),
        subject: 'a-1',
        data: { agent: 'a-1' },
      },
    ]);
  });

  it('rejects invalid signals with a readable error and delivers nothing', async () => {
    newBus();
    let calls = 0;
    bus.subscribe('*', () => void calls++, { policy: DropPolicy.dropNewest });
    await expect(bus.publish({ type: 'bad type!' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: /type/,
    });
    await expect(bus.publish({ type: 'a.b', data: { f: () => 1 } })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(bus.publish({ type: 'a.b', time: 'yesterday' })).rejects.toMatchObject({ message: /time/ });
    await expect(bus.publish({ type: SIGNAL_DROPPED })).rejects.toMatchObject({ message: /reserved/ });
    await settle();
    expect(calls).toBe(0);
    expect(() => bus.subscribe('a', () => undefined, {} as never)).toThrow(/policy/);
  });

  it('matches exact types, prefix wildcards over one or more segments, and * for everything', async () => {
    newBus();
    const got: Record<string, string[]> = {};
    for (const pattern of ['error', 'error.*', 'error.db.*', 'errors.*', '*']) {
      got[pattern] = [];
      bus.subscribe(pattern, (s) => void got[pattern]?.push(s.type), { policy: DropPolicy.dropNewest });
    }
    for (const type of ['error', 'error.db', 'error.db.timeout', 'errors.x', 'info'])
      await bus.publish({ type });
    await settle();
    expect(got).toEqual({
      error: ['error'],
      'error.*': ['error.db', 'error.db.timeout'],
      'error.db.*': ['error.db.timeout'],
      'errors.*': ['errors.x'],
      '*': ['error', 'error.db', 'error.db.timeout', 'errors.x', 'info'],
    });
  });

  it('rejects patterns with a wildcard anywhere but the end', () => {
    newBus();
    for (const pattern of ['error.*.timeout', 'err*', '*.error', '', 'error.', 'error.**']) {
      expect(() => bus.subscribe(pattern, () => undefined, { policy: DropPolicy.dropNewest })).toThrow(
        expect.objectContaining({ code: 'invalid_signal_pattern' }),
      );
    }
  });

  it('drop_newest drops arriving signals when the buffer is full, with a drop event and a count for each', async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const dropSignals: unknown[] = [];
    bus.subscribe(SIGNAL_DROPPED, (s) => void dropSignals.push(s.data), { policy: DropPolicy.dropNewest });
    const { sub, seen, started, release } = stalled(DropPolicy.dropNewest, 2);

    await bus.publish({ type: 'job.run', data: 1 });
    await started.promise;
    const receipts = [];
    for (const n of [2, 3, 4, 5]) receipts.push(await bus.publish({ type: 'job.run', data: n }));
    expect(receipts.map((r) => r.accepted)).toEqual([1, 1, 0, 0]);
    release.resolve();
    await settle();

    expect(seen).toEqual([1, 2, 3]);
    expect(drops.map((d) => [d.subscriber, d.policy, d.reason, d.droppedCount])).toEqual([
      ['stalled drop_newest', 'drop_newest', 'buffer_full', 1],
      ['stalled drop_newest', 'drop_newest', 'buffer_full', 2],
    ]);
    expect(drops.map((d) => d.signalId)).toEqual([receipts[2]?.signal.id, receipts[3]?.signal.id]);
    expect(dropSignals).toMatchObject([
      { subscriber: 'stalled drop_newest', policy: 'drop_newest', reason: 'buffer_full' },
      { subscriber: 'stalled drop_newest', policy: 'drop_newest', reason: 'buffer_full' },
    ]);
    expect(sub.stats()).toMatchObject({ delivered: 3, dropped: 2, failed: 0, buffered: 0 });
    expect(bus.stats().dropped).toBe(2);
  });

  it('drop_oldest drops the oldest buffered signal to make room, with a drop event for each', async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const { sub, seen, started, release } = stalled(DropPolicy.dropOldest, 2);
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4, 5]) {
      ids.push((await bus.publish({ type: 'job.run', data: n })).signal.id);
      if (n === 1) await started.promise;
    }
    release.resolve();
    await settle();
    expect(seen).toEqual([1, 4, 5]);
    expect(drops.map((d) => [d.signalId, d.policy, d.reason])).toEqual([
      [ids[1], 'drop_oldest', 'buffer_full'],
      [ids[2], 'drop_oldest', 'buffer_full'],
    ]);
    expect(sub.stats()).toMatchObject({ delivered: 3, dropped: 2 });
  });

  it('block makes the publisher wait for room and drops nothing', async () => {
    newBus();
    const { sub, seen, started, release } = stalled(DropPolicy.block, 1);
    await bus.publish({ type: 'job.run', data: 1 });
    await started.promise;
    await bus.publish({ type: 'job.run', data: 2 });
    let resolved = false;
    const third = bus.publish({ type: 'job.run', data: 3 }).then((r) => {
      resolved = true;
      return r;
    });
    await settle();
    expect(resolved).toBe(false);
    expect(sub.stats()).toMatchObject({ buffered: 1, blocked: 1, dropped: 0 });

    release.resolve();
    expect(await third).toMatchObject({ accepted: 1, dropped: 0 });
    await settle();
    expect(seen).toEqual([1, 2, 3]);
    expect(sub.stats()).toMatchObject({ delivered: 3, dropped: 0, blocked: 0, buffered: 0 });
  });

  it('a blocked publisher gives up after blockTimeoutMs on the clock, and the drop is reported', async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const { sub, started, release } = stalled(DropPolicy.block, 1, { blockTimeoutMs: 500 });
    await bus.publish({ type: 'job.run', data: 1 });
    await started.promise;
    await bus.publish({ type: 'job.run', data: 2 });
    const third = bus.publish({ type: 'job.run', data: 3 });
    await clock.advance(500);
    expect(await third).toMatchObject({ accepted: 0, dropped: 1 });
    expect(drops).toMatchObject([{ policy: 'block', reason: 'block_timeout' }]);
    expect(sub.stats()).toMatchObject({ dropped: 1, blocked: 0 });
    release.resolve();
  });

  it("the bus's own reports never wait at a full block subscriber: they are dropped and counted", async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const release = deferred();
    const everythingStarted = deferred();
    const everything = bus.subscribe(
      '*',
      async () => {
        everythingStarted.resolve();
        await release.promise;
      },
      { policy: DropPolicy.block, capacity: 1, name: 'everything' },
    );
    const jobs = stalled(DropPolicy.dropNewest, 1);
    await bus.publish({ type: 'job.a', data: 1 }); // both start handling it
    await everythingStarted.promise;
    await jobs.started.promise;
    const second = bus.publish({ type: 'job.b', data: 2 }); // fills both buffers
    await second;
    // `jobs` drops this one; the drop report finds `everything` full and is dropped, not waited for,
    // while the publish itself waits for room at `everything`.
    let resolved = false;
    const third = bus.publish({ type: 'job.c', data: 3 }).then(() => (resolved = true));
    await settle();
    expect(drops.map((d) => [d.subscriber, d.signalType])).toEqual([
      ['stalled drop_newest', 'job.c'],
      ['everything', SIGNAL_DROPPED],
    ]);
    expect(resolved).toBe(false);
    expect(everything.stats()).toMatchObject({ buffered: 1, blocked: 1, dropped: 1 });
    release.resolve();
    jobs.release.resolve();
    await third;
    await settle();
    expect(everything.stats()).toMatchObject({ delivered: 3, dropped: 1, blocked: 0 });
  });

  it('a drop report that is itself dropped is counted once and does not loop', async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const release = deferred();
    const started = deferred();
    const all = bus.subscribe(
      '*',
      async () => {
        started.resolve();
        await release.promise;
      },
      { policy: DropPolicy.dropNewest, capacity: 1 },
    );
    await bus.publish({ type: 'a' });
    await started.promise;
    await bus.publish({ type: 'b' }); // fills the buffer
    await bus.publish({ type: 'c' }); // dropped; its drop report is dropped too
    expect(drops.map((d) => d.signalType)).toEqual(['c', SIGNAL_DROPPED]);
    expect(all.stats().dropped).toBe(2);
    release.resolve();
    await settle();
  });

  it('a subscriber that throws does not affect the bus or other subscribers, and its failures are reported', async () => {
    newBus();
    const failures: SignalFailure[] = [];
    bus.onFailure((f) => failures.push(f));
    const failureSignals: unknown[] = [];
    bus.subscribe(SIGNAL_FAILED, (s) => void failureSignals.push(s.data), { policy: DropPolicy.dropNewest });
    const failingSeen: unknown[] = [];
    const failing = bus.subscribe(
      'job.*',
      (s) => {
        failingSeen.push(s.data);
        throw new Error(`cannot do ${String(s.data)}`);
      },
      { policy: DropPolicy.dropNewest, name: 'failing' },
    );
    const healthySeen: unknown[] = [];
    const healthy = bus.subscribe('job.*', (s) => void healthySeen.push(s.data), {
      policy: DropPolicy.dropNewest,
    });
    for (const n of [1, 2, 3]) await bus.publish({ type: 'job.run', data: n });
    await settle();

    expect(healthySeen).toEqual([1, 2, 3]);
    expect(failingSeen).toEqual([1, 2, 3]);
    expect(failing.stats()).toMatchObject({ delivered: 0, failed: 3 });
    expect(healthy.stats()).toMatchObject({ delivered: 3, failed: 0 });
    expect(failures.map((f) => [f.subscriber, f.error.message])).toEqual([
      ['failing', 'cannot do 1'],
      ['failing', 'cannot do 2'],
      ['failing', 'cannot do 3'],
    ]);
    expect(failureSignals).toHaveLength(3);
    expect(bus.stats()).toMatchObject({ failed: 3 });
  });

  it('a handler failure nobody listens for still surfaces as a process warning', async () => {
    newBus();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      bus.subscribe('job.*', () => Promise.reject(new Error('lost?')), {
        policy: DropPolicy.dropNewest,
        name: 'quiet',
      });
      await bus.publish({ type: 'job.run' });
      await settle(10);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.some((w) => w.includes('"quiet"') && w.includes('lost?'))).toBe(true);
  });

  it('a subscriber handles its signals one at a time, in publish order', async () => {
    newBus();
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const gates = Array.from({ length: 5 }, () => deferred());
    bus.subscribe(
      'job.*',
      async (s) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gates[s.data as number]?.promise;
        order.push(s.data as number);
        active--;
      },
      { policy: DropPolicy.block, capacity: 10 },
    );
    for (const n of [0, 1, 2, 3, 4]) await bus.publish({ type: 'job.run', data: n });
    // Open the gates in reverse: order must still follow publishing.
    for (const g of [...gates].reverse()) g.resolve();
    await settle(10);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(maxActive).toBe(1);
  });

  it('unsubscribe drains the buffer by default, or drops it (reported) when told not to drain', async () => {
    newBus();
    const drops: SignalDrop[] = [];
    bus.onDrop((d) => drops.push(d));
    const a = stalled(DropPolicy.dropNewest, 10);
    await bus.publish({ type: 'job.run', data: 1 });
    await a.started.promise;
    await bus.publish({ type: 'job.run', data: 2 });
    const done = a.sub.unsubscribe();
    expect((await bus.publish({ type: 'job.run', data: 3 })).matched).toBe(0);
    a.release.resolve();
    await done;
    expect(a.seen).toEqual([1, 2]);

    const b = stalled(DropPolicy.dropNewest, 10);
    await bus.publish({ type: 'job.run', data: 4 });
    await b.started.promise;
    await bus.publish({ type: 'job.run', data: 5 });
    const dropped = b.sub.unsubscribe({ drain: false });
    b.release.resolve();
    await dropped;
    expect(b.seen).toEqual([4]);
    expect(drops).toMatchObject([{ reason: 'unsubscribed', signalType: 'job.run' }]);
    expect(bus.subscribers()).toEqual([]);
  });

  it('unsubscribing releases blocked publishers, their signals reported as dropped', async () => {
    newBus();
    const { sub, started, release } = stalled(DropPolicy.block, 1);
    await bus.publish({ type: 'job.run', data: 1 });
    await started.promise;
    await bus.publish({ type: 'job.run', data: 2 });
    const blocked = bus.publish({ type: 'job.run', data: 3 });
    const done = sub.unsubscribe();
    expect(await blocked).toMatchObject({ accepted: 0, dropped: 1 });
    release.resolve();
    await done;
    expect(sub.stats()).toMatchObject({ delivered: 2, dropped: 1 });
  });

  it('reports stats per subscriber and for the bus', async () => {
    newBus();
    bus.subscribe('a.*', () => undefined, { policy: DropPolicy.dropNewest, name: 'alpha', capacity: 5 });
    bus.subscribe('*', () => undefined, { policy: DropPolicy.dropOldest });
    await bus.publish({ type: 'a.b' });
    await bus.publish({ type: 'c' });
    await settle();
    expect(bus.subscribers()).toMatchObject([
      {
        name: 'alpha',
        pattern: 'a.*',
        policy: 'drop_newest',
        capacity: 5,
        delivered: 1,
        dropped: 0,
        failed: 0,
        buffered: 0,
      },
      { name: '*', pattern: '*', policy: 'drop_oldest', capacity: 1000, delivered: 2 },
    ]);
    expect(bus.stats()).toEqual({ published: 2, delivered: 3, dropped: 0, failed: 0, subscribers: 2 });
    await bus.close();
    await expect(bus.publish({ type: 'a.b' })).rejects.toMatchObject({ code: 'messaging_stopped' });
  });
});
