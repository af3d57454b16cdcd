/**
 * Durable timers: one-shot delays, fixed intervals and cron schedules kept as rows in the store. They
 * survive restarts (an overdue timer fires at once, or is skipped, per its missed-run policy) and each
 * due time fires on exactly one node: a firing is claimed under a lease with a fencing token, and only
 * the claim holder can settle it.
 */
import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { Clock, TimerHandle } from '../runtime/clock.js';
import {
  bindList,
  PAGE_DEFAULT_LIMIT,
  pageLimitSchema,
  decodePageCursor,
  encodePageCursor,
  parseJson,
  toJson,
  type SqlValue,
  type Store,
  type Tx,
  type Unsubscribe,
} from '../store/index.js';
import { SchedulerErrorCode, TimerError } from './errors.js';
import type { SchedulerEventSink } from './events.js';
import { describeError, emitTo } from '../telemetry/index.js';
import { Leadership } from './leadership.js';

export { TimerError } from './errors.js';

/** What a timer does when it comes due long after its time (the node was down). */
export const MissedPolicy = {
  /** Fire once now, then carry on from the next future time. */
  runOnce: 'run_once',
  /** Do not fire for times missed by more than `graceMs`; carry on from the next future time. */
  skip: 'skip',
} as const;
export type MissedPolicy = (typeof MissedPolicy)[keyof typeof MissedPolicy];

const id = z.string().min(1).max(200);
const base = {
  id: id.optional(),
  topic: z.string().min(1).max(200),
  payload: z.unknown().optional(),
  /** An owning agent or process id: `cancelOwner` removes its timers when it goes away. */
  owner: z.string().min(1).max(200).optional(),
};
const timerSpecSchema = z.union([
  z.object({ ...base, at: z.number().int().nonnegative() }).strict(),
  z.object({ ...base, delayMs: z.number().int().nonnegative() }).strict(),
  z
    .object({
      ...base,
      intervalMs: z.number().int().min(1),
      missedPolicy: z.enum(['run_once', 'skip']).optional(),
    })
    .strict(),
  z
    .object({
      ...base,
      cron: z.string().min(1).max(200),
      timezone: z.string().min(1).max(100).optional(),
      missedPolicy: z.enum(['run_once', 'skip']).optional(),
    })
    .strict(),
]);
/** A timer to create: exactly one of `at` (UNIX epoch ms), `delayMs`, `intervalMs` or `cron`. */
export type DurableTimerSpec = z.input<typeof timerSpecSchema>;

export interface DurableTimerInfo {
  readonly id: string;
  readonly kind: 'once' | 'cron' | 'interval';
  readonly topic: string;
  readonly payload: unknown;
  /** Next due time, UNIX epoch ms. */
  readonly dueAt: number;
  readonly cron: string | null;
  readonly intervalMs: number | null;
  readonly missedPolicy: MissedPolicy;
  readonly owner: string | null;
  readonly attempts: number;
  readonly firedCount: number;
  readonly lastError: string | null;
  /** The node holding a firing in progress, if any. */
  readonly claimedBy: string | null;
}

/** What a handler is given when its timer fires. */
export interface TimerFiring {
  readonly id: string;
  readonly topic: string;
  readonly payload: unknown;
  /** The time the timer was due, UNIX epoch ms. */
  readonly dueAt: number;
  /** 1 for the first try of this due time, 2 after one failure, … */
  readonly attempt: number;
}

export type TimerHandler = (firing: TimerFiring) => void | Promise<void>;

export interface DurableTimersOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** This node's id; recorded on claims. */
  readonly nodeId: string;
  /** How long a claimed firing is held before another node may take it over, in ms. Default 30000. */
  readonly leaseMs?: number;
  /** Largest number of due timers claimed at once. Default 100. */
  readonly batchSize?: number;
  /** A `skip` timer fires only if it is at most this late, in ms. Default 1000. */
  readonly graceMs?: number;
  /** Delay before retrying a failed firing: `min(maxRetryDelayMs, 1000 * 2^(attempt-1))` ms. */
  readonly maxRetryDelayMs?: number;
  /**
   * How often a node that is not the cron leader tries to become it, in ms. Default 5000. Only the
   * leader fires cron timers; see `isCronLeader`.
   */
  readonly leaderRetryMs?: number;
  /** Called with true when this node becomes the cron leader, false when it stops being it. */
  readonly onLeadershipChange?: (leader: boolean) => void;
  /** Called when a handler fails (the firing is retried later) or the store fails (`attempt` 0). */
  readonly onError?: (firing: TimerFiring, error: unknown) => void;
  /**
   * Where `scheduler.timer_*` events and `timers.active` (kind `durable`, counted after each change this
   * node commits) go. Default none.
   */
  readonly events?: SchedulerEventSink;
}

/** The store lock whose holder fires cron timers. */
export const CRON_LEADER_LOCK = 'garrison.timers.cron-leader';

interface TimerRow {
  id: string;
  kind: 'once' | 'cron' | 'interval';
  topic: string;
  payload: unknown;
  due_at: number;
  cron: string | null;
  timezone: string | null;
  interval_ms: number | null;
  missed_policy: MissedPolicy;
  owner: string | null;
  attempts: number;
  fired_count: number;
  last_error: string | null;
  claimed_by: string | null;
  fence: number;
}

/** Wakes the durable timers of every node: due or released firings are looked for. */
export const TIMERS_CHANNEL = 'garrison_timers';
const CHANNEL = TIMERS_CHANNEL;

function toInfo(row: TimerRow): DurableTimerInfo {
  return {
    id: row.id,
    kind: row.kind,
    topic: row.topic,
    payload: parseJson(row.payload),
    dueAt: Number(row.due_at),
    cron: row.cron,
    intervalMs: row.interval_ms === null ? null : Number(row.interval_ms),
    missedPolicy: row.missed_policy,
    owner: row.owner,
    attempts: Number(row.attempts),
    firedCount: Number(row.fired_count),
    lastError: row.last_error,
    claimedBy: row.claimed_by,
  };
}

/** The next cron time strictly after `after` (UNIX epoch ms), or null when the pattern has no more. */
export function nextCronTime(pattern: string, after: number, timezone?: string | null): number | null {
  const cron = new Cron(pattern, { paused: true, timezone: timezone ?? undefined });
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}

/** What `DurableTimers.page` lists: timers of a topic and/or owner, one page at a time. */
export interface TimerPageFilter {
  readonly topic?: string;
  readonly owner?: string;
  /** Most timers answered. Default 100, at most 1000. */
  readonly limit?: number;
  /** The `nextCursor` of the page before. Omitted: the first page. */
  readonly cursor?: string;
}

export interface TimerPage {
  readonly timers: DurableTimerInfo[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  readonly nextCursor: string | null;
}

const timerPageSchema = z.strictObject({
  topic: z.string().optional(),
  owner: z.string().optional(),
  limit: pageLimitSchema.optional(),
  cursor: z.string().optional(),
});

export class DurableTimers {
  /** Where the timers live. */
  readonly store: Store;
  private readonly clock: Clock;
  private readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly graceMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly handlers = new Map<string, TimerHandler>();
  private wake: TimerHandle | undefined;
  private wakeAt = Infinity;
  private running = false;
  private ticking: Promise<void> | undefined;
  private again = false;
  private unlisten: Unsubscribe | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly leadership: Leadership;
  /** A count of the timers for `timers.active` is in flight / another is wanted after it. */
  private counting = false;
  private recount = false;

  constructor(private readonly options: DurableTimersOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.batchSize = options.batchSize ?? 100;
    this.graceMs = options.graceMs ?? 1000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 300_000;
    this.leadership = new Leadership({
      store: this.store,
      clock: this.clock,
      name: CRON_LEADER_LOCK,
      retryMs: options.leaderRetryMs ?? 5000,
      onChange: (leader) => {
        options.onLeadershipChange?.(leader);
        // A new leader looks at once for cron times that came due while nobody led.
        if (leader) this.poke();
      },
      onError: (error) => this.reportStoreError(error),
    });
  }

  /**
   * Whether this node leads cron: of all nodes sharing the store, only the holder of the cron leader
   * lock (a PostgreSQL advisory lock; on SQLite, the first of this process's stores on the file) fires
   * cron timers. Every node fires once and interval timers.
   */
  get isCronLeader(): boolean {
    return this.leadership.isLeader;
  }

  /** Registers the handler for a topic. Only topics with a handler are fired by this node. */
  on(topic: string, handler: TimerHandler): void {
    if (this.handlers.has(topic))
      throw new TimerError(SchedulerErrorCode.topicTaken, `topic "${topic}" already has a handler`);
    this.handlers.set(topic, handler);
    if (this.running) this.poke();
  }

  /**
   * Creates or replaces the timer with `spec.id` (a random id when absent). Inside a transaction pass
   * `tx` so the timer commits with the caller's work.
   */
  async schedule(spec: DurableTimerSpec, tx?: Tx): Promise<DurableTimerInfo> {
    const parsed = timerSpecSchema.safeParse(spec);
    if (!parsed.success) throw new ValidationError(`invalid timer: ${describeIssues(parsed.error.issues)}`);
    const s = parsed.data;
    const now = this.clock.now();
    let kind: TimerRow['kind'] = 'once';
    let dueAt: number;
    let cron: string | null = null;
    let timezone: string | null = null;
    let intervalMs: number | null = null;
    let missed: MissedPolicy = MissedPolicy.runOnce;
    if ('at' in s) dueAt = s.at;
    else if ('delayMs' in s) dueAt = now + s.delayMs;
    else if ('intervalMs' in s) {
      kind = 'interval';
      intervalMs = s.intervalMs;
      dueAt = now + s.intervalMs;
      missed = s.missedPolicy ?? MissedPolicy.runOnce;
    } else {
      kind = 'cron';
      cron = s.cron;
      timezone = s.timezone ?? null;
      missed = s.missedPolicy ?? MissedPolicy.runOnce;
      let next: number | null;
      try {
        next = nextCronTime(s.cron, now, timezone);
      } catch (error) {
        throw new ValidationError(
          `invalid cron pattern "${s.cron}": ${(error as Error).message}`,
          undefined,
          error,
        );
      }
      if (next === null) throw new ValidationError(`the cron pattern "${s.cron}" never fires after now`);
      dueAt = next;
    }
    const timerId = s.id ?? randomUUID();
    const write = async (t: Tx): Promise<DurableTimerInfo> => {
      const rows = await t.query<TimerRow>(
        `INSERT INTO garrison_timers
           (id, kind, topic, payload, due_at, cron, timezone, interval_ms, missed_policy, owner, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, topic = excluded.topic,
           payload = excluded.payload, due_at = excluded.due_at, cron = excluded.cron,
           timezone = excluded.timezone, interval_ms = excluded.interval_ms,
           missed_policy = excluded.missed_policy, owner = excluded.owner, attempts = 0,
           last_error = NULL, claimed_by = NULL, claim_until = NULL,
           fence = garrison_timers.fence + 1
         RETURNING *`,
        [
          timerId,
          kind,
          s.topic,
          toJson(s.payload ?? null),
          dueAt,
          cron,
          timezone,
          intervalMs,
          missed,
          s.owner,
          now,
        ],
      );
      const row = rows[0];
      if (row === undefined)
        throw new TimerError(SchedulerErrorCode.timerFailed, `timer ${timerId} was not written`);
      const info = toInfo(row);
      t.afterCommit(() => {
        this.onScheduled(dueAt);
        emitTo(this.options.events, 'scheduler.timer_scheduled', {
          id: info.id,
          topic: info.topic,
          kind: info.kind,
          dueAt: info.dueAt,
          owner: info.owner,
        });
        this.countActive();
      });
      return info;
    };
    return tx === undefined ? this.store.transaction(write) : write(tx);
  }

  /** Cancels a timer; true when it existed. A firing in progress finishes but is not rescheduled. */
  async cancel(timerId: string, tx?: Tx): Promise<boolean> {
    const run = async (t: Tx) => {
      const result = await t.execute('DELETE FROM garrison_timers WHERE id = $1', [timerId]);
      if (result.rowCount > 0) t.afterCommit(() => this.cancelled(timerId, null, result.rowCount));
      return result;
    };
    const result = tx === undefined ? await this.store.transaction(run) : await run(tx);
    return result.rowCount > 0;
  }

  /** Cancels every timer of an owner (an agent or process that went away); returns how many. */
  async cancelOwner(owner: string, tx?: Tx): Promise<number> {
    const run = async (t: Tx) => {
      const result = await t.execute('DELETE FROM garrison_timers WHERE owner = $1', [owner]);
      if (result.rowCount > 0) t.afterCommit(() => this.cancelled(null, owner, result.rowCount));
      return result;
    };
    const result = tx === undefined ? await this.store.transaction(run) : await run(tx);
    return result.rowCount;
  }

  async get(timerId: string, tx?: Tx): Promise<DurableTimerInfo | undefined> {
    const rows = await (tx ?? this.store).query<TimerRow>('SELECT * FROM garrison_timers WHERE id = $1', [
      timerId,
    ]);
    return rows[0] === undefined ? undefined : toInfo(rows[0]);
  }

  /** Every durable timer, soonest first; filter by topic or owner. Use `page` where there may be many. */
  async list(filter: { topic?: string; owner?: string } = {}): Promise<DurableTimerInfo[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.topic !== undefined) where.push(`topic = $${params.push(filter.topic)}`);
    if (filter.owner !== undefined) where.push(`owner = $${params.push(filter.owner)}`);
    const rows = await this.store.query<TimerRow>(
      `SELECT * FROM garrison_timers ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY due_at, id`,
      params,
    );
    return rows.map(toInfo);
  }

  /**
   * A page of `list`, soonest first: at most `limit` timers (default 100, at most 1000) after `cursor`
   * (the `nextCursor` of the page before; null there when that page was the last). Keyset paging on
   * (due time, id), so a timer fired or added meanwhile never shifts the pages.
   */
  async page(filter: TimerPageFilter = {}): Promise<TimerPage> {
    const parsed = timerPageSchema.safeParse(filter);
    if (!parsed.success) throw new ValidationError(`invalid page: ${describeIssues(parsed.error.issues)}`);
    const { topic, owner, limit = PAGE_DEFAULT_LIMIT, cursor } = parsed.data;
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (topic !== undefined) where.push(`topic = $${params.push(topic)}`);
    if (owner !== undefined) where.push(`owner = $${params.push(owner)}`);
    if (cursor !== undefined) {
      const key = decodePageCursor(cursor, ['number', 'string']);
      if (key === undefined)
        throw new ValidationError(
          'invalid page: cursor is not a cursor of this listing; pass a nextCursor as given',
        );
      const due = `$${params.push(key[0] as number)}`;
      const id = `$${params.push(key[1] as string)}`;
      where.push(`(due_at > ${due} OR (due_at = ${due} AND id > ${id}))`);
    }
    // One row more than asked tells whether there is a next page.
    const rows = await this.store.query<TimerRow>(
      `SELECT * FROM garrison_timers ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY due_at, id LIMIT $${params.push(limit + 1)}`,
      params,
    );
    const timers = rows.slice(0, limit).map(toInfo);
    const last = timers[timers.length - 1];
    return {
      timers,
      nextCursor: rows.length > limit && last !== undefined ? encodePageCursor([last.dueAt, last.id]) : null,
    };
  }

  /** Starts firing due timers of the registered topics. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unlisten = await this.store.listen(CHANNEL, () => this.poke());
    await this.leadership.start();
    this.poke();
  }

  /** Stops firing: cancels the wake-up and waits for firings in progress. */
  async stop(): Promise<void> {
    this.running = false;
    await this.leadership.stop();
    this.wake?.cancel();
    this.wake = undefined;
    this.wakeAt = Infinity;
    await this.unlisten?.();
    this.unlisten = undefined;
    await this.ticking;
    await Promise.all([...this.inFlight]);
  }

  /**
   * Resolves once no poll and no firing is in flight (a firing that starts another poll is waited for
   * too). The virtual clock fires a wake-up and returns before the store round trips it started are
   * done; tests await this before moving time on.
   */
  async idle(): Promise<void> {
    while (this.ticking !== undefined || this.inFlight.size > 0 || this.leadership.busy) {
      await this.ticking;
      await Promise.allSettled([...this.inFlight]);
      await this.leadership.idle();
    }
  }

  /** Whether the wake-up timer is armed (for shutdown checks). */
  get armed(): boolean {
    return this.wake !== undefined || this.leadership.armed;
  }

  /** Checks for due timers now. */
  poke(): void {
    if (!this.running) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((error: unknown) => {
        // A store failure while claiming: try again after a short pause rather than stop firing.
        this.reportStoreError(error);
        this.arm(this.clock.now() + 1000);
      })
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private cancelled(id: string | null, owner: string | null, count: number): void {
    emitTo(this.options.events, 'scheduler.timer_cancelled', { id, owner, count });
    this.countActive();
  }

  /**
   * Reports the number of durable timers as `timers.active` (one COUNT, coalesced: changes made while a
   * count is in flight are counted once after it). Only with an event sink.
   */
  private countActive(): void {
    if (this.options.events === undefined) return;
    if (this.counting) {
      this.recount = true;
      return;
    }
    this.counting = true;
    const p = this.store
      .query<{ n: number | string }>('SELECT COUNT(*) AS n FROM garrison_timers')
      .then((rows) => {
        emitTo(this.options.events, 'timers.active', { kind: 'durable', count: Number(rows[0]?.n ?? 0) });
      })
      .catch((error: unknown) => this.reportStoreError(error))
      .finally(() => {
        this.inFlight.delete(p);
        this.counting = false;
        if (this.recount) {
          this.recount = false;
          this.countActive();
        }
      });
    this.inFlight.add(p);
  }

  private reportStoreError(error: unknown): void {
    this.options.onError?.({ id: '', topic: '', payload: null, dueAt: 0, attempt: 0 }, error);
  }

  /** Cron timers are the leader's; other nodes leave them alone. */
  private kindFilter(): string {
    return this.leadership.isLeader ? '' : "AND kind <> 'cron'";
  }

  private onScheduled(dueAt: number): void {
    if (this.store.capabilities.notify) void this.store.notify(CHANNEL, '');
    if (this.running && dueAt < this.wakeAt) this.poke();
  }

  private arm(at: number): void {
    if (!this.running) return;
    if (this.wake !== undefined && this.wakeAt <= at) return;
    this.wake?.cancel();
    this.wakeAt = at;
    this.wake = this.clock.setTimer(at - this.clock.now(), () => {
      this.wake = undefined;
      this.wakeAt = Infinity;
      this.poke();
    });
  }

  private topics(): string[] {
    return [...this.handlers.keys()];
  }

  private async tick(): Promise<void> {
    const topics = this.topics();
    if (topics.length === 0) return;
    for (;;) {
      const claimed = await this.claim(topics);
      for (const row of claimed) this.track(row, this.fire(row));
      if (claimed.length < this.batchSize) break;
    }
    await this.armForNext(topics);
  }

  private track(row: TimerRow, firing: Promise<void>): void {
    // A store failure while settling leaves the claim in place: the firing is retried when it lapses.
    const p = firing
      .catch((error: unknown) => {
        this.options.onError?.(
          { id: row.id, topic: row.topic, payload: null, dueAt: Number(row.due_at), attempt: 0 },
          error,
        );
        this.arm(this.clock.now() + this.leaseMs);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** `topic` is one of `topics`, the list bound as the one parameter `$at`. */
  private topicIn(topics: string[], at: number): { sql: string; param: SqlValue } {
    return bindList(this.store.dialect, 'topic', 'text', topics, at);
  }

  private async claim(topics: string[]): Promise<TimerRow[]> {
    const now = this.clock.now();
    const lock = this.store.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const topic = this.topicIn(topics, 5);
    return this.store.write((tx) =>
      tx.query<TimerRow>(
        `UPDATE garrison_timers
           SET claimed_by = $1, claim_until = $2, fence = fence + 1
         WHERE id IN (
           SELECT id FROM garrison_timers
           WHERE due_at <= $3 AND (claimed_by IS NULL OR claim_until < $3)
             AND ${topic.sql} ${this.kindFilter()}
           ORDER BY due_at LIMIT $4 ${lock})
         RETURNING *`,
        [this.nodeId, now + this.leaseMs, now, this.batchSize, topic.param],
      ),
    );
  }

  private async armForNext(topics: string[]): Promise<void> {
    const topic = this.topicIn(topics, 1);
    const rows = await this.store.query<{ next: number | null }>(
      `SELECT MIN(CASE WHEN claimed_by IS NULL THEN due_at ELSE claim_until END) AS next
       FROM garrison_timers WHERE ${topic.sql} ${this.kindFilter()}`,
      [topic.param],
    );
    const next = rows[0]?.next;
    if (next !== null && next !== undefined) this.arm(Number(next));
  }

  private async fire(row: TimerRow): Promise<void> {
    const handler = this.handlers.get(row.topic);
    const now = this.clock.now();
    const dueAt = Number(row.due_at);
    const firing: TimerFiring = {
      id: row.id,
      topic: row.topic,
      payload: parseJson(row.payload),
      dueAt,
      attempt: Number(row.attempts) + 1,
    };
    const late = now - dueAt;
    const skip = row.kind !== 'once' && row.missed_policy === MissedPolicy.skip && late > this.graceMs;
    if (!skip && handler !== undefined) {
      try {
        await handler(firing);
      } catch (error) {
        this.options.onError?.(firing, error);
        const retryAt = await this.settleFailure(row, error);
        emitTo(this.options.events, 'scheduler.timer_failed', {
          id: row.id,
          topic: row.topic,
          attempt: firing.attempt,
          retryAt,
          error: describeError(error),
        });
        return;
      }
    }
    await this.settleSuccess(row, skip);
    emitTo(this.options.events, 'scheduler.timer_fired', {
      id: row.id,
      topic: row.topic,
      dueAt,
      attempt: firing.attempt,
      skipped: skip,
    });
  }

  private nextDue(row: TimerRow, now: number): number | null {
    if (row.kind === 'interval') {
      const interval = Number(row.interval_ms);
      const due = Number(row.due_at);
      // Carry on from the next future slot of the interval; missed slots collapse into this one firing.
      const steps = Math.max(1, Math.ceil((now - due + 1) / interval));
      return due + steps * interval;
    }
    if (row.kind === 'cron' && row.cron !== null) return nextCronTime(row.cron, now, row.timezone);
    return null;
  }

  private async settleSuccess(row: TimerRow, skipped: boolean): Promise<void> {
    const now = this.clock.now();
    const next = this.nextDue(row, now);
    await this.store.write(async (tx) => {
      if (next === null) {
        const done = await tx.execute('DELETE FROM garrison_timers WHERE id = $1 AND fence = $2', [
          row.id,
          row.fence,
        ]);
        // A one-shot timer that fired is gone: the count moved.
        if (done.rowCount > 0) tx.afterCommit(() => this.countActive());
      } else {
        await tx.execute(
          `UPDATE garrison_timers SET due_at = $3, attempts = 0, last_error = NULL, claimed_by = NULL,
             claim_until = NULL, fired_count = fired_count + $4
           WHERE id = $1 AND fence = $2`,
          [row.id, row.fence, next, skipped ? 0 : 1],
        );
      }
    });
    if (next !== null) this.arm(next);
  }

  private async settleFailure(row: TimerRow, error: unknown): Promise<number> {
    const attempts = Number(row.attempts) + 1;
    const retryAt = this.clock.now() + Math.min(this.maxRetryDelayMs, 1000 * 2 ** (attempts - 1));
    await this.store.write((tx) =>
      tx.execute(
        `UPDATE garrison_timers SET attempts = $3, last_error = $4, due_at = $5, claimed_by = NULL,
           claim_until = NULL
         WHERE id = $1 AND fence = $2`,
        [
          row.id,
          row.fence,
          attempts,
          String(error instanceof Error ? error.message : error).slice(0, 2000),
          retryAt,
        ],
      ),
    );
    this.arm(retryAt);
    return retryAt;
  }
}
