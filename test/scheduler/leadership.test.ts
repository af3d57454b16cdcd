import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/index.js';
import { DurableTimers } from '../../src/scheduler/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { advisoryLockKey } from '../../src/store/postgres/advisory-locks.js';
import { adapters, postgresAdapter } from '../support/stores.js';
import { advanceAndDrain } from './support.js';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 0, 0, 0);

interface Node {
  name: string;
  store: Store;
  timers: DurableTimers;
  leaderChanges: boolean[];
  /** Resolves when this node's leadership next changes to `leader`. */
  becomes(leader: boolean): Promise<void>;
  errors: unknown[];
}

function twoNodeHarness() {
  const nodes: Node[] = [];
  const fired: string[] = [];
  const clock = new VirtualClock(START);

  async function node(name: string, url: string): Promise<Node> {
    const store = await openStore(url);
    const waiters: Array<{ leader: boolean; resolve: () => void }> = [];
    const n: Node = {
      name,
      store,
      timers: undefined as never,
      leaderChanges: [],
      becomes: (leader) => new Promise((resolve) => waiters.push({ leader, resolve })),
      errors: [],
    };
    n.timers = new DurableTimers({
      store,
      clock,
      nodeId: name,
      leaderRetryMs: 5000,
      onLeadershipChange: (leader) => {
        n.leaderChanges.push(leader);
        for (const w of waiters.splice(0)) if (w.leader === leader) w.resolve();
      },
      onError: (_f, error) => n.errors.push(error),
    });
    n.timers.on('cron', (f) => {
      fired.push(`${name}@${(f.dueAt - START) / MINUTE}`);
    });
    n.timers.on('job', (f) => {
      fired.push(`${name}:${f.id}`);
    });
    nodes.push(n);
    return n;
  }

  const advance = (ms: number) =>
    advanceAndDrain(
      clock,
      nodes.map((n) => n.timers),
      ms,
    );

  async function cleanup(): Promise<void> {
    fired.length = 0;
    for (const n of nodes.splice(0)) {
      await n.timers.stop();
      await n.store.close();
    }
  }

  return { clock, fired, node, advance, cleanup };
}

describe.each(adapters)('store locks on $name', (adapter) => {
  it('one holder at a time; release and close free the lock, and close tells the holder it was lost', async () => {
    const url = adapter.freshUrl();
    const a = await openStore(url);
    const b = await openStore(url);
    try {
      const first = await a.tryLock('job');
      expect(first?.held).toBe(true);
      expect(await b.tryLock('job')).toBeUndefined();
      expect(await a.tryLock('job')).toBeUndefined(); // not re-entrant
      const other = await b.tryLock('other-job');
      expect(other?.held).toBe(true);

      await first?.release();
      expect(first?.held).toBe(false);
      const second = await b.tryLock('job');
      expect(second?.held).toBe(true);
      let lost = 0;
      second?.onLost(() => lost++);
      await b.close();
      expect(lost).toBe(1);
      expect(second?.held).toBe(false);
      expect((await a.tryLock('job'))?.held).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.each(adapters)('cron leadership on $name', (adapter) => {
  const h = twoNodeHarness();
  afterEach(() => h.cleanup());

  it('only the leader fires cron times; when its store closes, the other node fires the next ones, each once', async () => {
    const url = adapter.freshUrl();
    const a = await h.node('a', url);
    const b = await h.node('b', url);
    await a.timers.start();
    await b.timers.start();
    expect([a.timers.isCronLeader, b.timers.isCronLeader]).toEqual([true, false]);
    await a.timers.schedule({ id: 'minutely', topic: 'cron', cron: '* * * * *', timezone: 'UTC' });
    // Once timers are not the leader's alone: the follower fires them too.
    await b.timers.schedule({ id: 'one-off', topic: 'job', delayMs: 90_000 });
    await h.advance(3 * MINUTE);
    expect(h.fired.filter((f) => f.includes('@'))).toEqual(['a@1', 'a@2', 'a@3']);
    expect(h.fired.filter((f) => f.includes(':'))).toHaveLength(1);

    await a.store.close(); // the leader dies: its connections, and with them its lock, are gone
    expect(a.timers.isCronLeader).toBe(false);
    expect(a.leaderChanges).toEqual([true, false]);
    await h.advance(3 * MINUTE);
    expect(b.leaderChanges).toEqual([true]);
    expect(h.fired.filter((f) => f.includes('@'))).toEqual(['a@1', 'a@2', 'a@3', 'b@4', 'b@5', 'b@6']);
    expect((await b.timers.get('minutely'))?.firedCount).toBe(6);
  });

  it('a follower never claims a cron timer, even one long overdue', async () => {
    const url = adapter.freshUrl();
    const a = await h.node('a', url);
    const b = await h.node('b', url);
    await a.timers.start();
    await a.timers.schedule({ id: 'minutely', topic: 'cron', cron: '* * * * *', timezone: 'UTC' });
    await a.timers.stop(); // gives the lock up; nobody leads for a while
    await b.store.execute("UPDATE garrison_timers SET due_at = $1 WHERE id = 'minutely'", [START - MINUTE]);
    const rival = await a.store.tryLock('garrison.timers.cron-leader');
    await b.timers.start();
    expect(b.timers.isCronLeader).toBe(false);
    b.timers.poke();
    await h.advance(30_000);
    expect(h.fired).toEqual([]);
    await rival?.release();
    await h.advance(5000); // b's next try takes the lock and fires the overdue time at once
    expect(b.timers.isCronLeader).toBe(true);
    expect(h.fired).toEqual(['b@-1']);
  });
});

describe('cron leadership on postgres: a lost lock connection', () => {
  const h = twoNodeHarness();
  afterEach(() => h.cleanup());

  it('a leader whose lock connection is terminated stops firing cron at once and the other node takes over', async () => {
    const url = postgresAdapter.freshUrl();
    const schema = new URL(url).searchParams.get('schema') as string;
    const a = await h.node('a', url);
    const b = await h.node('b', url);
    await a.timers.start();
    await b.timers.start();
    await a.timers.schedule({ id: 'minutely', topic: 'cron', cron: '* * * * *', timezone: 'UTC' });
    await h.advance(2 * MINUTE + 2500);
    expect(h.fired).toEqual(['a@1', 'a@2']);

    const lostLeadership = a.becomes(false);
    const key = BigInt(advisoryLockKey(schema, 'garrison.timers.cron-leader'));
    const unsigned = BigInt.asUintN(64, key);
    const terminated = await b.store.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
      [String(unsigned >> 32n), String(unsigned & 0xffffffffn)],
    );
    expect(terminated).toEqual([{ ok: true }]);
    await lostLeadership;
    expect(a.timers.isCronLeader).toBe(false);

    await h.advance(2 * MINUTE);
    expect([a.timers.isCronLeader, b.timers.isCronLeader]).toEqual([false, true]);
    expect(h.fired).toEqual(['a@1', 'a@2', 'b@3', 'b@4']);
  });
});
