/**
 * Pools as stored: the pool row, its items, its wait queue, and `settle`, the one place items are handed
 * to waiters. Whoever changes a pool (a check-out, a check-in, a waiter's look) settles it in the same
 * transaction, with the pool row locked: items that are free (never taken, checked in, freed by their
 * process's exit, or expired) go to the oldest waiting requests, each under a lease taken in the
 * waiter's name. The grant is durable, so a waiter whose node restarted finds its item when it comes
 * back within the lease; a grant nobody picks up before its lease ends is abandoned like an item not
 * renewed: the request leaves the queue and the item goes to the next.
 */
import type { Executor } from '../../store/index.js';
import { forUpdate, type PrimitivesContext } from './context.js';
import { PoolNotFoundError } from './errors.js';
import { leasesWithPrefix, takeIn, type LeaseOwner, type LeaseRowState } from './leases.js';

/** The lease name of a pool item (a pool name has no `/`). */
export function itemLeaseName(pool: string, item: string): string {
  return `${pool}/${item}`;
}

/** The wake-up key of every change of a pool (the same as its items' lease key). */
export function poolKey(pool: string): string {
  return `pool:${pool}`;
}

export interface WaiterRow {
  id: string;
  seq: number | string;
  holder: string;
  ttl_ms: number | string;
  enqueued_at: number | string;
  deadline_at: number | string;
  owner_node: string | null;
  owner_pid: number | string | null;
  owner_boot: string | null;
  item: string | null;
  token: string | null;
  fence: number | string | null;
  granted_at: number | string | null;
}

const WAITER_COLUMNS = `id, seq, holder, ttl_ms, enqueued_at, deadline_at, owner_node, owner_pid, owner_boot,
  item, token, fence, granted_at`;

/** Locks the pool row for the rest of `tx` (PostgreSQL) and answers its next waiter number; `pool_not_found`. */
export async function lockPool(ctx: PrimitivesContext, tx: Executor, pool: string): Promise<number> {
  const rows = await tx.query<{ next_seq: number | string }>(
    `SELECT next_seq FROM garrison_coord_pools WHERE name = $1${forUpdate(ctx)}`,
    [pool],
  );
  if (rows[0] === undefined) throw new PoolNotFoundError(pool);
  return Number(rows[0].next_seq);
}

export async function readItems(db: Executor, pool: string): Promise<string[]> {
  const rows = await db.query<{ item: string }>(
    'SELECT item FROM garrison_coord_pool_items WHERE pool = $1 ORDER BY position',
    [pool],
  );
  return rows.map((r) => r.item);
}

export async function readWaiters(db: Executor, pool: string): Promise<WaiterRow[]> {
  return db.query<WaiterRow>(
    `SELECT ${WAITER_COLUMNS} FROM garrison_coord_pool_waiters WHERE pool = $1 ORDER BY seq`,
    [pool],
  );
}

export async function readWaiter(db: Executor, pool: string, id: string): Promise<WaiterRow | undefined> {
  const rows = await db.query<WaiterRow>(
    `SELECT ${WAITER_COLUMNS} FROM garrison_coord_pool_waiters WHERE pool = $1 AND id = $2`,
    [pool, id],
  );
  return rows[0];
}

/** The leases of the pool's items by item name (an item never taken has none). */
export async function itemLeases(db: Executor, pool: string): Promise<Map<string, LeaseRowState>> {
  const prefix = `${pool}/`;
  const rows = await leasesWithPrefix(db, 'pool', prefix);
  return new Map(rows.map((r) => [r.name.slice(prefix.length), r]));
}

/** True when `lease` is held and unexpired at `now`. */
export function isLive(lease: LeaseRowState | undefined, now: number): boolean {
  return lease?.holder !== undefined && lease.expiresAt !== undefined && lease.expiresAt > now;
}

/** What settling left: items still free (nobody waits then), requests still waiting, the next expiry. */
export interface Settled {
  readonly free: readonly string[];
  readonly waiting: number;
  /** The earliest end of a held item's lease: a waiter looks again then. */
  readonly nextExpiry: number | undefined;
}

/**
 * Hands free items to the oldest waiting requests, inside `tx` with the pool row locked. Before that, a
 * request whose grant is no longer current (expired unclaimed, or freed) and a waiting request past its
 * deadline leave the queue.
 */
export async function settle(
  ctx: PrimitivesContext,
  tx: Executor,
  pool: string,
  now: number,
): Promise<Settled> {
  const items = await readItems(tx, pool);
  const leases = await itemLeases(tx, pool);
  const waiting: WaiterRow[] = [];
  for (const w of await readWaiters(tx, pool)) {
    const abandoned =
      w.item !== null && !(leases.get(w.item)?.token === w.token && isLive(leases.get(w.item), now));
    if (w.item !== null && !abandoned) continue;
    if (abandoned || Number(w.deadline_at) <= now) {
      await tx.execute('DELETE FROM garrison_coord_pool_waiters WHERE pool = $1 AND id = $2', [pool, w.id]);
      continue;
    }
    waiting.push(w);
  }
  const free = items.filter((item) => !isLive(leases.get(item), now));
  let granted = 0;
  for (let i = 0; i < Math.min(free.length, waiting.length); i++) {
    const item = free[i] as string;
    const w = waiting[i] as WaiterRow;
    const owner: LeaseOwner | undefined =
      w.owner_node === null || w.owner_pid === null || w.owner_boot === null
        ? undefined
        : { node: w.owner_node, pid: Number(w.owner_pid), boot: w.owner_boot };
    const lease = await takeIn(
      ctx,
      tx,
      'pool',
      itemLeaseName(pool, item),
      w.holder,
      Number(w.ttl_ms),
      owner,
      now,
    );
    if (lease === undefined) continue; // taken meanwhile by a writer outside the pool lock: next settle
    leases.set(item, { ...lease, holder: lease.holder, acquiredAt: now });
    await tx.execute(
      `UPDATE garrison_coord_pool_waiters SET item = $3, token = $4, fence = $5, granted_at = $6
        WHERE pool = $1 AND id = $2`,
      [pool, w.id, item, lease.token, lease.fence, now],
    );
    granted = i + 1;
  }
  let next: number | undefined;
  for (const item of items) {
    const lease = leases.get(item);
    if (isLive(lease, now) && (next === undefined || (lease?.expiresAt ?? Infinity) < next))
      next = lease?.expiresAt;
  }
  return {
    free: free.slice(granted).filter((item) => !isLive(leases.get(item), now)),
    waiting: waiting.length - granted,
    nextExpiry: next,
  };
}
