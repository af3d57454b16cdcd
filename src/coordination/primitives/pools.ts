/**
 * Resource pools: a named set of items (connections, licences, GPU slots…) checked out one holder at a
 * time. A checked-out item is a lease of kind `pool` — the same fenced, expiring lease as a lock's, freed
 * at once when its holding process exits — so a holder that dies or stops renewing gives the item back.
 * Requests that find no item wait in a durable FIFO queue (see `pool-rows.ts`): the oldest gets the next
 * item returned, a request keeps its place across a restart of its node (resume it by `requestId`), and
 * one nobody resumes leaves the queue at its deadline.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { NoProcError, Pid } from '../../runtime/index.js';
import type { Executor } from '../../store/index.js';
import { ValidationError } from '../../errors.js';
import type { PrimitivesContext } from './context.js';
import { PoolExistsError, PoolInUseError, PoolNotFoundError, PoolTimeoutError } from './errors.js';
import type { LeaseService } from './lease-service.js';
import { freeLease, processHolder, takeIn, type Lease } from './leases.js';
import {
  isLive,
  itemLeaseName,
  itemLeases,
  lockPool,
  poolKey,
  readItems,
  readWaiter,
  readWaiters,
  settle,
  type WaiterRow,
} from './pool-rows.js';
import { holderSchema, nameSchema, parse, ttlSchema, waitSchema } from './validate.js';
import { TIMED_OUT, waitUntil } from './wakeups.js';

/** A pool's name: letters, digits, `.`, `_`, `:`, `-` (no `/`: it separates pool and item in a lease). */
export const poolNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
    'a pool name is letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
  );

/** Largest number of items in a pool. */
export const MAX_POOL_ITEMS = 10_000;

export interface PoolCreateOptions {
  /** The items, distinct, in the order they are handed out. */
  readonly items?: readonly string[];
  /** Or a number of items, named "0", "1", … (1 to 10,000). */
  readonly count?: number;
}

export interface CheckOutOptions {
  /**
   * Who takes the item: a name, or a process of the local runtime — monitored, and its exit checks the
   * item in at once.
   */
  readonly holder: string | Pid;
  /** The item's lease length, ms: unless renewed within it, the item returns to the pool. */
  readonly ttlMs: number;
  /** How long to wait in the queue while every item is out, ms. Default 0: one try. */
  readonly waitMs?: number;
  /**
   * The request's id in the wait queue. Given again after a restart, it resumes the request that was
   * waiting (its place and deadline kept) and picks up an item granted meanwhile. Default: a new UUID.
   */
  readonly requestId?: string;
}

/** A checked-out item. Keep it: renew and check-in take it back. */
export interface PoolLease extends Lease {
  readonly kind: 'pool';
  readonly pool: string;
  readonly item: string;
}

/** One item of a pool now. */
export interface PoolItemState {
  readonly item: string;
  /** Who holds it; undefined when it is in the pool. */
  readonly holder: string | undefined;
  /** Its last lease's fencing number (0 when it was never checked out). */
  readonly fence: number;
  /** When the holder took it, UNIX epoch ms. */
  readonly acquiredAt: number | undefined;
  /** When it returns unless renewed, UNIX epoch ms. */
  readonly expiresAt: number | undefined;
}

/** A request in a pool's wait queue, oldest first. */
export interface PoolWaiter {
  readonly requestId: string;
  readonly holder: string;
  /** UNIX epoch ms. */
  readonly enqueuedAt: number;
  /** It leaves the queue then if still waiting, UNIX epoch ms. */
  readonly deadlineAt: number;
  /** The item granted to it and not yet picked up. */
  readonly granted: string | undefined;
}

export interface PoolStatus {
  readonly name: string;
  /** UNIX epoch ms. */
  readonly createdAt: number;
  readonly size: number;
  /** Items in the pool now (free, or out past their lease). */
  readonly available: number;
  readonly items: readonly PoolItemState[];
  readonly waiters: readonly PoolWaiter[];
}

export interface CoordinationPools {
  /**
   * Creates a pool with `items` or `count` items. Creating it again with the same items is a no-op; with
   * other items, `pool_exists`.
   */
  create(name: string, options: PoolCreateOptions): Promise<PoolStatus>;
  /**
   * Checks an item out, waiting up to `waitMs` in the FIFO queue while every item is out; `pool_timeout`
   * then (the request has left the queue); `pool_not_found`.
   */
  checkOut(pool: string, options: CheckOutOptions): Promise<PoolLease>;
  /** One try: an item, or undefined when every item is out or others wait before. */
  tryCheckOut(pool: string, options: Omit<CheckOutOptions, 'waitMs'>): Promise<PoolLease | undefined>;
  /** Extends the item's lease from now; `pool_item_lost` when it expired, was checked in or taken over. */
  renew(lease: PoolLease, options?: { readonly ttlMs?: number }): Promise<PoolLease>;
  /**
   * Returns the item and hands it to the oldest waiter in the same transaction; `pool_item_lost` (nothing
   * changed) when the lease's token and fence are not the item's current ones.
   */
  checkIn(lease: PoolLease): Promise<void>;
  /** Whether `lease` is still the item's current, live lease. */
  holds(lease: PoolLease): Promise<boolean>;
  /** Takes a request out of the wait queue (an item granted to it goes to the next); false when it was not there. */
  cancel(pool: string, requestId: string): Promise<boolean>;
  /** The pool now: its items with their holders, and its waiters; `pool_not_found`. */
  status(pool: string): Promise<PoolStatus>;
  /** Deletes the pool and its wait queue; `pool_in_use` while an item is out; false when there was none. */
  remove(pool: string): Promise<boolean>;
}

const distinct = (a: readonly string[]) => new Set(a).size === a.length;
const createSchema = z
  .strictObject({
    items: z
      .array(nameSchema)
      .min(1)
      .max(MAX_POOL_ITEMS)
      .refine(distinct, 'items must be distinct')
      .optional(),
    count: z.number().int().min(1).max(MAX_POOL_ITEMS).optional(),
  })
  .refine((o) => (o.items === undefined) !== (o.count === undefined), 'give either items or count');
const checkOutSchema = z.strictObject({
  holder: holderSchema,
  ttlMs: ttlSchema,
  waitMs: waitSchema.default(0),
  requestId: nameSchema.optional(),
});
const leaseSchema = z.looseObject({
  kind: z.literal('pool'),
  name: z.string().min(3).max(400).includes('/'),
  token: z.string().min(1),
  fence: z.number().int().min(1),
  ttlMs: ttlSchema,
});
const renewSchema = z.strictObject({ ttlMs: ttlSchema.optional() });

/** The pool `name` as anyone can read it at `now`; undefined when there is none. */
export async function readPool(db: Executor, name: string, now: number): Promise<PoolStatus | undefined> {
  const rows = await db.query<{ created_at: number | string }>(
    'SELECT created_at FROM garrison_coord_pools WHERE name = $1',
    [name],
  );
  if (rows[0] === undefined) return undefined;
  const items = await readItems(db, name);
  const leases = await itemLeases(db, name);
  const states = items.map((item): PoolItemState => {
    const lease = leases.get(item);
    const live = isLive(lease, now);
    return {
      item,
      holder: live ? lease?.holder : undefined,
      fence: lease?.fence ?? 0,
      acquiredAt: live ? lease?.acquiredAt : undefined,
      expiresAt: live ? lease?.expiresAt : undefined,
    };
  });
  const waiters = (await readWaiters(db, name)).map((w): PoolWaiter => ({
    requestId: w.id,
    holder: w.holder,
    enqueuedAt: Number(w.enqueued_at),
    deadlineAt: Number(w.deadline_at),
    granted: w.item ?? undefined,
  }));
  return {
    name,
    createdAt: Number(rows[0].created_at),
    size: items.length,
    available: states.filter((s) => s.holder === undefined).length,
    items: states,
    waiters,
  };
}

function toPoolLease(pool: string, w: WaiterRow, process: Pid | undefined): PoolLease {
  const item = w.item as string;
  const grantedAt = Number(w.granted_at);
  return {
    kind: 'pool',
    name: itemLeaseName(pool, item),
    pool,
    item,
    holder: w.holder,
    token: w.token as string,
    fence: Number(w.fence),
    acquiredAt: grantedAt,
    expiresAt: grantedAt + Number(w.ttl_ms),
    ttlMs: Number(w.ttl_ms),
    process,
  };
}

/** What a look at the wait queue found for one request. */
type Found =
  | { readonly granted: WaiterRow }
  | { readonly gone: true }
  | { readonly wakeAt: number | undefined; readonly deadline?: number };

export function createPools(ctx: PrimitivesContext, leases: LeaseService): CoordinationPools {
  /** Picks up a grant: the request leaves the queue (same transaction as the look). */
  const pickUp = async (tx: Executor, pool: string, w: WaiterRow): Promise<Found> => {
    await tx.execute('DELETE FROM garrison_coord_pool_waiters WHERE pool = $1 AND id = $2', [pool, w.id]);
    return { granted: w };
  };

  /**
   * Settles the pool, then takes a free item at once when nobody waits before the request; otherwise
   * enqueues it (or finds it, resumed after a restart) and says where it stands.
   */
  const enqueue = async (
    pool: string,
    id: string,
    holder: string,
    process: Pid | undefined,
    ttlMs: number,
    waitMs: number,
  ): Promise<Found> =>
    ctx.store.transaction(async (tx) => {
      const seq = await lockPool(ctx, tx, pool);
      const now = ctx.clock.now();
      const known = await readWaiter(tx, pool, id);
      if (known !== undefined && known.holder !== holder) {
        throw new ValidationError(`the request "${id}" of pool "${pool}" belongs to ${known.holder}`);
      }
      const settled = await settle(ctx, tx, pool, now);
      if (known !== undefined) {
        const mine = await readWaiter(tx, pool, id);
        if (mine === undefined) return { gone: true };
        if (mine.item !== null) return pickUp(tx, pool, mine);
        // A resumed request keeps its place and the deadline it was given first.
        return { wakeAt: settled.nextExpiry, deadline: Number(mine.deadline_at) };
      }
      const owner = process === undefined ? undefined : { node: ctx.nodeId, pid: process.id, boot: ctx.boot };
      const item = settled.waiting === 0 ? settled.free[0] : undefined;
      if (item !== undefined) {
        const lease = await takeIn(ctx, tx, 'pool', itemLeaseName(pool, item), holder, ttlMs, owner, now);
        if (lease !== undefined) {
          const row: WaiterRow = {
            id,
            seq,
            holder,
            ttl_ms: ttlMs,
            enqueued_at: now,
            deadline_at: now,
            owner_node: owner?.node ?? null,
            owner_pid: owner?.pid ?? null,
            owner_boot: owner?.boot ?? null,
            item,
            token: lease.token,
            fence: lease.fence,
            granted_at: now,
          };
          return { granted: row };
        }
      }
      if (waitMs === 0) return { gone: true };
      await tx.execute(
        `INSERT INTO garrison_coord_pool_waiters
           (pool, id, seq, holder, ttl_ms, enqueued_at, deadline_at, owner_node, owner_pid, owner_boot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          pool,
          id,
          seq,
          holder,
          ttlMs,
          now,
          now + waitMs,
          owner?.node ?? null,
          owner?.pid ?? null,
          owner?.boot ?? null,
        ],
      );
      await tx.execute('UPDATE garrison_coord_pools SET next_seq = $2 WHERE name = $1', [pool, seq + 1]);
      return { wakeAt: settled.nextExpiry, deadline: now + waitMs };
    });

  /** A waiter's later look: settles the pool and reads its own request. */
  const look = (pool: string, id: string): Promise<Found> =>
    ctx.store.transaction(async (tx) => {
      await lockPool(ctx, tx, pool);
      const { nextExpiry } = await settle(ctx, tx, pool, ctx.clock.now());
      const mine = await readWaiter(tx, pool, id);
      if (mine === undefined) return { gone: true };
      if (mine.item !== null) return pickUp(tx, pool, mine);
      return { wakeAt: nextExpiry };
    });

  const checkOut = async (pool: string, options: unknown): Promise<PoolLease | undefined> => {
    const p = parse(poolNameSchema, pool, 'pool name');
    const o = parse(checkOutSchema, options, 'check-out options');
    const process = o.holder instanceof Pid ? o.holder : undefined;
    if (process !== undefined) leases.checkProcess(process);
    const holder = process === undefined ? (o.holder as string) : processHolder(ctx, process);
    const id = o.requestId ?? randomUUID();
    const asked = ctx.clock.now() + o.waitMs;
    let found = await enqueue(p, id, holder, process, o.ttlMs, o.waitMs);
    if ('wakeAt' in found) {
      const deadline = found.deadline ?? asked;
      // Watched before the next look, so an item granted after the enqueue still wakes the wait.
      const outcome = await waitUntil<Found>(
        ctx.wakeups,
        ctx.clock,
        ctx.pollMs,
        poolKey(p),
        deadline,
        async () => {
          if (process !== undefined && ctx.runtime?.isAlive(process) !== true) {
            await cancel(p, id);
            throw new NoProcError(process, 'the process waiting for a pool item has exited');
          }
          const now = await look(p, id);
          return 'wakeAt' in now
            ? { done: false, ...(now.wakeAt === undefined ? {} : { wakeAt: now.wakeAt }) }
            : { done: true, value: now };
        },
      );
      // At the deadline the last look has settled the queue: the request left it unless granted.
      found = outcome === TIMED_OUT ? await look(p, id) : outcome;
    }
    if ('granted' in found) {
      const lease = toPoolLease(p, found.granted, process);
      leases.adopt(lease);
      return lease;
    }
    if ('wakeAt' in found) await cancel(p, id);
    if (o.waitMs === 0) return undefined;
    throw new PoolTimeoutError(p, o.waitMs, id);
  };

  const cancel = async (pool: string, requestId: string): Promise<boolean> =>
    ctx.store.transaction(async (tx) => {
      await lockPool(ctx, tx, pool);
      const w = await readWaiter(tx, pool, requestId);
      if (w === undefined) return false;
      await tx.execute('DELETE FROM garrison_coord_pool_waiters WHERE pool = $1 AND id = $2', [
        pool,
        requestId,
      ]);
      if (w.item !== null && w.token !== null) {
        await freeLease(ctx, tx, 'pool', itemLeaseName(pool, w.item), w.token);
        await settle(ctx, tx, pool, ctx.clock.now());
      }
      return true;
    });

  const checkLease = (lease: PoolLease): PoolLease => {
    parse(leaseSchema, lease, 'pool lease');
    return lease;
  };
  const poolOf = (lease: PoolLease) => lease.name.slice(0, lease.name.indexOf('/'));

  return {
    async create(name, options) {
      const n = parse(poolNameSchema, name, 'pool name');
      const o = parse(createSchema, options, 'pool options');
      const items = o.items ?? Array.from({ length: o.count ?? 0 }, (_, i) => String(i));
      const status = await ctx.store.transaction(async (tx) => {
        const now = ctx.clock.now();
        const inserted = await tx.execute(
          'INSERT INTO garrison_coord_pools (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
          [n, now],
        );
        if (inserted.rowCount > 0) {
          for (let i = 0; i < items.length; i++) {
            await tx.execute(
              'INSERT INTO garrison_coord_pool_items (pool, item, position) VALUES ($1, $2, $3)',
              [n, items[i], i],
            );
          }
          await ctx.wakeups.announce(poolKey(n));
        }
        return readPool(tx, n, now);
      });
      if (status === undefined) throw new PoolNotFoundError(n); // removed in between
      const stored = status.items.map((i) => i.item);
      if (stored.length !== items.length || stored.some((item, i) => item !== items[i])) {
        throw new PoolExistsError(n, stored);
      }
      return status;
    },

    async checkOut(pool, options) {
      return (await checkOut(pool, options)) as PoolLease;
    },

    async tryCheckOut(pool, options) {
      return checkOut(pool, { ...options, waitMs: 0 });
    },

    async renew(lease, options = {}) {
      const l = checkLease(lease);
      const o = parse(renewSchema, options, 'renew options');
      const renewed = await leases.renew(l, o.ttlMs ?? l.ttlMs);
      return { ...l, ...renewed, kind: 'pool' };
    },

    async checkIn(lease) {
      const l = checkLease(lease);
      const pool = poolOf(l);
      await leases.release(l, {
        // The pool row first, as every writer of the pool takes it: no two transactions wait in a cycle.
        before: async (tx) => {
          await lockPool(ctx, tx, pool);
        },
        after: async (tx) => {
          await settle(ctx, tx, pool, ctx.clock.now());
        },
      });
    },

    async holds(lease) {
      return leases.isCurrent(checkLease(lease));
    },

    async cancel(pool, requestId) {
      return cancel(parse(poolNameSchema, pool, 'pool name'), parse(nameSchema, requestId, 'request id'));
    },

    async status(pool) {
      const p = parse(poolNameSchema, pool, 'pool name');
      const status = await readPool(ctx.store, p, ctx.clock.now());
      if (status === undefined) throw new PoolNotFoundError(p);
      return status;
    },

    async remove(pool) {
      const p = parse(poolNameSchema, pool, 'pool name');
      return ctx.store.transaction(async (tx) => {
        try {
          await lockPool(ctx, tx, p);
        } catch (error) {
          if (error instanceof PoolNotFoundError) return false;
          throw error;
        }
        const now = ctx.clock.now();
        const held = [...(await itemLeases(tx, p)).values()].filter((l) => isLive(l, now)).length;
        if (held > 0) throw new PoolInUseError(p, held);
        // The item leases stay (free): a pool created again under the name keeps raising their fences.
        await tx.execute('DELETE FROM garrison_coord_pool_waiters WHERE pool = $1', [p]);
        await tx.execute('DELETE FROM garrison_coord_pool_items WHERE pool = $1', [p]);
        await tx.execute('DELETE FROM garrison_coord_pools WHERE name = $1', [p]);
        await ctx.wakeups.announce(poolKey(p));
        return true;
      });
    },
  };
}

/** Frees the wait-queue places of processes of an earlier boot of this node (they cannot be alive). */
export async function dropOrphanWaiters(ctx: PrimitivesContext): Promise<number> {
  return ctx.store.transaction(async (tx) => {
    const rows = await tx.query<{ pool: string; id: string }>(
      `SELECT pool, id FROM garrison_coord_pool_waiters
        WHERE owner_node = $1 AND owner_boot <> $2 ORDER BY pool, id`,
      [ctx.nodeId, ctx.boot],
    );
    for (const r of rows) {
      await tx.execute('DELETE FROM garrison_coord_pool_waiters WHERE pool = $1 AND id = $2', [r.pool, r.id]);
      await ctx.wakeups.announce(poolKey(r.pool));
    }
    return rows.length;
  });
}
