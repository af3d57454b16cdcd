/**
 * Deterministic simulation of the task queue, after FoundationDB and TigerBeetle: one seed decides
 * everything — how many tasks and workers, when time moves, which store calls fail and how, when a worker
 * crashes and comes back. Time is a `VirtualClock`, randomness a seeded generator, and the store a real
 * in-memory SQLite wrapped so that calls fail at the chosen points:
 *
 * - `before`: the call fails and nothing happens (a busy database, a refused connection);
 * - `after`: the call happens and commits, then fails — the answer is lost (an ambiguous commit);
 * - `inside`: a statement inside a transaction fails, and the transaction rolls back.
 *
 * A crashed worker is inert from that moment: its store calls never answer, its timers never fire, and
 * nothing it would report is heard. A paused worker (SIGSTOP) makes no progress until it is resumed —
 * its timers and store calls wait — while time, and its leases, run on. Every run records a trace; the
 * same seed gives the same trace.
 */
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../src/runtime/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore, StoreError, StoreErrorCode, type Store, type Tx } from '../../src/store/index.js';
import { createQueueClient, createWorker, defineQueue, type Worker } from '../../src/work/index.js';

/** mulberry32: a small seeded generator in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Point = 'before' | 'after' | 'inside';

/** Where a simulation's store faults come from: the seed decides whether a call fails, and where. */
export interface FaultSource {
  fault(points: readonly Point[]): Point | undefined;
  injected(who: string, what: string, point: Point): StoreError;
}

/** One party's life: crashed for good, or paused until resumed (its waiting work runs then). */
export class Party {
  dead = false;
  private waiting: Array<() => void> | undefined;

  get paused(): boolean {
    return this.waiting !== undefined;
  }

  pause(): void {
    this.waiting ??= [];
  }

  resume(): void {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const run of waiting) run();
  }

  /** Runs `fn` now, or on resume when paused; never once dead. */
  whenRunning(fn: () => void): void {
    if (this.dead) return;
    if (this.waiting !== undefined) this.waiting.push(() => this.whenRunning(fn));
    else fn();
  }
}

/** The store as one party sees it: calls fail where the seed says, and hang once the party crashed. */
export class FaultyStore {
  readonly party = new Party();
  readonly store: Store;

  /**
   * @param latency virtual ms a call takes before it reaches the database (the worker's calls take
   *   time, so batches are in flight while other work finishes); none for the producer, whose calls the
   *   driver awaits.
   */
  constructor(
    real: Store,
    private readonly sim: FaultSource,
    private readonly who: string,
    private readonly latency?: { readonly clock: VirtualClock; readonly ms: () => number },
  ) {
    const call = <T>(what: string, run: () => Promise<T>): Promise<T> => this.call(what, run);
    this.store = {
      dialect: real.dialect,
      capabilities: real.capabilities,
      query: (sql, params) => call('query', () => real.query(sql, params)),
      execute: (sql, params) => call('execute', () => real.execute(sql, params)),
      transaction: (fn, options) =>
        call('transaction', () => real.transaction((tx) => fn(this.tx(tx)), options)),
      write: (fn) => call('write', () => real.write((tx) => fn(this.tx(tx)))),
      migrate: () => real.migrate(),
      status: () => real.status(),
      notify: (channel, payload) => call('notify', () => real.notify(channel, payload)),
      listen: (channel, fn) => real.listen(channel, (p) => this.party.whenRunning(() => fn(p))),
      tryLock: (name) => real.tryLock(name),
      close: () => real.close(),
    };
  }

  private get dead(): boolean {
    return this.party.dead;
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.latency !== undefined) {
      const { clock, ms } = this.latency;
      await new Promise<void>((arrive) => clock.setTimer(ms(), arrive));
    }
    if (this.party.paused) await new Promise<void>((resume) => this.party.whenRunning(resume));
    if (this.dead) return new Promise<T>(() => undefined);
    const point = this.sim.fault(what === 'query' ? ['before'] : ['before', 'after']);
    if (point === 'before') throw this.sim.injected(this.who, what, point);
    const result = await run();
    // The answer reaches a paused process only once it runs again.
    if (this.party.paused) await new Promise<void>((resume) => this.party.whenRunning(resume));
    if (this.dead) return new Promise<T>(() => undefined);
    if (point === 'after') throw this.sim.injected(this.who, what, point);
    return result;
  }

  private tx(tx: Tx): Tx {
    const inside = <T>(what: string, run: () => Promise<T>): Promise<T> => {
      if (this.sim.fault(['inside']) === 'inside')
        return Promise.reject(this.sim.injected(this.who, what, 'inside'));
      return run();
    };
    return {
      dialect: tx.dialect,
      query: (sql, params) => inside('tx.query', () => tx.query(sql, params)),
      execute: (sql, params) => inside('tx.execute', () => tx.execute(sql, params)),
      savepoint: (fn) => tx.savepoint((t) => fn(this.tx(t))),
      afterCommit: (fn) => tx.afterCommit(() => this.party.whenRunning(fn)),
    };
  }
}

/** A clock for one party: the shared virtual time, with timers that wait while it is paused and die with it. */
export function partyClock(clock: VirtualClock, party: Party): Clock {
  return {
    now: () => clock.now(),
    setTimer: (ms: number, fn: () => void): TimerHandle => clock.setTimer(ms, () => party.whenRunning(fn)),
  };
}

export interface SimulationResult {
  readonly seed: number;
  /** What broke: empty when every invariant held. */
  readonly violations: string[];
  readonly trace: string[];
  /** A digest of the trace: equal for equal runs. */
  readonly digest: string;
  readonly figures: { tasks: number; faults: number; crashes: number; pauses: number; effects: number };
}

const queue = defineQueue({ name: 'sim', maxAttempts: 1000 });

/**
 * What every simulation shares: the seed's generator, the virtual clock, the trace, and the store faults
 * (on until `faultsOn` goes false; each call fails with a chance the seed picks between 2 % and 22 %).
 */
export class SimulationBase implements FaultSource {
  readonly random: () => number;
  readonly trace: string[] = [];
  protected readonly clock = new VirtualClock(Date.UTC(2026, 0, 1));
  /** Chance that a store call fails, while faults are on. */
  private readonly faultRate: number;
  protected faultsOn = true;
  faults = 0;

  constructor(readonly seed: number) {
    this.random = seeded(seed);
    this.faultRate = 0.02 + this.random() * 0.2;
  }

  protected int(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low + 1));
  }

  log(line: string): void {
    this.trace.push(`${this.clock.now() - Date.UTC(2026, 0, 1)} ${line}`);
  }

  fault(points: readonly Point[]): Point | undefined {
    if (!this.faultsOn || this.random() >= this.faultRate) return undefined;
    return points[Math.floor(this.random() * points.length)];
  }

  injected(who: string, what: string, point: Point): StoreError {
    this.faults++;
    this.log(`fault ${who} ${what} ${point}`);
    return point === 'after'
      ? new StoreError(StoreErrorCode.unreachable, `injected: the answer to ${what} was lost`, {
          retryable: true,
        })
      : new StoreError(StoreErrorCode.busy, `injected: ${what} failed ${point}`, { retryable: true });
  }

  /** A digest of the trace: equal for equal runs. */
  digest(): string {
    return createHash('sha256').update(this.trace.join('\n')).digest('hex').slice(0, 16);
  }
}

export class Simulation extends SimulationBase {
  async run(): Promise<SimulationResult> {
    const real = await openStore('sqlite::memory:', { now: () => this.clock.now() });
    try {
      return await this.drive(real);
    } finally {
      this.faultsOn = false;
      await real.close();
    }
  }

  private async drive(real: Store): Promise<SimulationResult> {
    const tasks = this.int(3, 24);
    const workerCount = this.int(1, 3);
    const violations: string[] = [];
    const producer = new FaultyStore(real, this, 'producer');
    const client = createQueueClient({
      store: producer.store,
      clock: this.clock,
      queues: [queue],
      random: this.random,
    });
    const asked = new Set<string>();
    const acked = new Set<string>();
    const effects = new Map<string, number>();
    const reported = new Map<string, string[]>();
    let crashes = 0;
    let pauses = 0;

    const workers: Array<{ worker: Worker; faulty: FaultyStore; life: number }> = [];
    const startWorker = async (slot: number, life: number) => {
      const faulty = new FaultyStore(real, this, `w${slot}.${life}`, {
        clock: this.clock,
        ms: () => this.int(0, 50),
      });
      const clock = partyClock(this.clock, faulty.party);
      const worker = createWorker({
        store: faulty.store,
        clock,
        queues: queue,
        concurrency: this.int(1, 4),
        leaseMs: 1000,
        pollIntervalMs: 200,
        workerId: `w${slot}.${life}`,
        random: this.random,
        handler: async (task) => {
          const key = (task.payload as { key: string }).key;
          effects.set(key, (effects.get(key) ?? 0) + 1);
          this.log(`run ${key} ${task.token} by w${slot}.${life}`);
          // The work takes a while of the worker's own time (which stands still while it is paused).
          const roll = this.random();
          const ms = roll < 0.4 ? 0 : roll < 0.8 ? this.int(0, 300) : this.int(0, 3000);
          await new Promise<void>((done) => clock.setTimer(ms, done));
          if (this.random() < 0.05) throw new Error('the handler failed');
        },
      });
      const hear = (what: string) => (event: { task: { payload: unknown; token: number } }) => {
        if (faulty.party.dead) return;
        const key = (event.task.payload as { key: string }).key;
        this.log(`${what} ${key} ${event.task.token} by w${slot}.${life}`);
        if (what === 'completed') reported.set(key, [...(reported.get(key) ?? []), `${event.task.token}`]);
      };
      worker.on('completed', hear('completed'));
      worker.on('leaseLost', hear('lost'));
      workers[slot] = { worker, faulty, life };
      // Starting takes (virtual) time: the driver moves it on. A worker the store refused to start is as
      // good as crashed: its slot is started again later.
      void worker.start().catch((error: unknown) => {
        faulty.party.dead = true;
        this.log(`start failed w${slot}.${life}: ${String(error)}`);
      });
    };
    for (let slot = 0; slot < workerCount; slot++) await startWorker(slot, 1);

    let next = 0;
    let pending: string[] = [];
    for (let step = 0; step < 400; step++) {
      const roll = this.random();
      if (pending.length === 0 && next < tasks && roll < 0.4) {
        pending = Array.from({ length: Math.min(tasks - next, this.int(1, 4)) }, () => `t${next++}`);
        for (const key of pending) asked.add(key);
      }
      if (pending.length > 0 && roll < 0.6) {
        const keys = pending;
        try {
          await client.enqueueMany(keys.map((key) => ({ queue, payload: { key }, idempotencyKey: key })));
          for (const key of keys) acked.add(key);
          this.log(`enqueued ${keys.join(',')}`);
          pending = [];
        } catch {
          this.log(`enqueue refused ${keys.join(',')}`);
        }
      } else if (roll < 0.72 && workers.length > 0) {
        const slot = this.int(0, workers.length - 1);
        const w = workers[slot]!;
        if (w.faulty.party.dead) await startWorker(slot, w.life + 1);
        else if (w.faulty.party.paused) {
          // Paused already: its resume is on the way.
        } else if (roll < 0.68) {
          w.faulty.party.dead = true;
          crashes++;
          this.log(`crash w${slot}.${w.life}`);
        } else {
          // Paused past its lease (SIGSTOP), resumed later (SIGCONT).
          w.faulty.party.pause();
          pauses++;
          this.log(`pause w${slot}.${w.life}`);
          this.clock.setTimer(this.int(1100, 2500), () => {
            this.log(`resume w${slot}.${w.life}`);
            w.faulty.party.resume();
          });
        }
      }
      await this.clock.advance(this.int(1, 400));
      if (next >= tasks && pending.length === 0 && step > 20) break;
    }
    // The faults end: what is still down comes back, and everything acknowledged must complete.
    this.faultsOn = false;
    this.log('faults end');
    while (pending.length > 0) {
      await client.enqueueMany(pending.map((key) => ({ queue, payload: { key }, idempotencyKey: key })));
      for (const key of pending) acked.add(key);
      pending = [];
    }
    for (const [slot, w] of workers.entries()) if (w.faulty.party.dead) await startWorker(slot, w.life + 1);
    const open = async () => {
      const rows = await real.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM garrison_tasks WHERE state IN ('queued', 'running')",
      );
      return Number(rows[0]?.n ?? 0);
    };
    for (let i = 0; i < 600 && (await open()) > 0; i++) await this.clock.advance(500);

    const rows = await real.query<{ idempotency_key: string; state: string; token: number }>(
      'SELECT idempotency_key, state, token FROM garrison_tasks',
    );
    const byKey = new Map(rows.map((r) => [r.idempotency_key, r]));
    for (const key of acked) {
      const row = byKey.get(key);
      if (row?.state !== 'completed') violations.push(`lost: ${key} is ${row?.state ?? 'missing'}`);
      if ((effects.get(key) ?? 0) === 0) violations.push(`never ran: ${key}`);
    }
    for (const row of rows)
      if (!asked.has(row.idempotency_key)) violations.push(`unexpected: ${row.idempotency_key}`);
    for (const [key, tokens] of reported) {
      if (tokens.length > 1) violations.push(`completed twice: ${key} (${tokens.join(', ')})`);
      const row = byKey.get(key);
      if (row !== undefined && tokens.some((t) => Number(t) !== Number(row.token)))
        violations.push(`completed with a stale token: ${key} (${tokens.join(', ')} of ${row.token})`);
    }
    for (const w of workers) w.faulty.party.dead = true;
    return {
      seed: this.seed,
      violations,
      trace: this.trace,
      digest: this.digest(),
      figures: {
        tasks: acked.size,
        faults: this.faults,
        crashes,
        pauses,
        effects: [...effects.values()].reduce((a, b) => a + b, 0),
      },
    };
  }
}

/** Runs one seed. */
export function simulate(seed: number): Promise<SimulationResult> {
  return new Simulation(seed).run();
}
