/**
 * Leases in the store, the one mechanism under locks, leader election and pool items. A row per (kind, name) holds
 * the current lease; taking it is one atomic upsert that succeeds only when the row is free or its lease
 * has expired, and raises `fence` by one — the lock's fencing number, the group's term. PostgreSQL
 * re-checks the condition on the newest row version after waiting for a concurrent writer, so of many
 * concurrent takers across nodes exactly one wins each fence. Renew and release name the lease by its
 * token: a holder that was taken over can do neither.
 *
 * Expiry is judged by the clock of whoever looks (`now` is a parameter): nodes' clocks must agree to well
 * within a lease's length, and whatever a lock guards should check the fence for the rest.
 */
import { randomUUID } from 'node:crypto';
import type { Pid } from '../../runtime/index.js';
import type { Executor, Store } from '../../store/index.js';
import { forUpdate, type PrimitivesContext } from './context.js';
import { LeadershipLostError, LockLostError, PoolItemLostError } from './errors.js';
import { COORDINATION_CHANNEL } from './wakeups.js';

/** A pool item's lease is named `<pool>/<item>` (a pool name has no `/`). */
export type LeaseKind = 'lock' | 'leader' | 'pool';

/** A lease as its holder keeps it. */
export interface Lease {
  readonly kind: LeaseKind;
  readonly name: string;
  readonly holder: string;
  /** Proves the holder holds this lease: renew and release must present it. */
  readonly token: string;
  /** The fencing number (a lock) or term (a group): greater for every new lease of the name. */
  readonly fence: number;
  /** When this lease began, UNIX epoch ms. */
  readonly acquiredAt: number;
  /** When it ends unless renewed, UNIX epoch ms. */
  readonly expiresAt: number;
  /** The length of a renewal when none is given, ms. */
  readonly ttlMs: number;
  /** The local process holding it (monitored: its exit releases the lease). */
  readonly process: Pid | undefined;
}

/** Who holds a name now, as anyone can read it. */
export interface LeaseState {
  readonly name: string;
  readonly holder: string;
  readonly fence: number;
  readonly acquiredAt: number;
  readonly expiresAt: number;
}

export interface TakeResult {
  /** The new lease; undefined when someone else holds a live one. */
  readonly lease: Lease | undefined;
  /** The live lease in the way, when not taken. */
  readonly current: LeaseState | undefined;
}

interface LeaseRow {
  name: string;
  holder: string;
  fence: number | string;
  acquired_at: number | string;
  expires_at: number | string;
}

const FREE = `holder = NULL, token = NULL, acquired_at = NULL, expires_at = NULL,
  owner_node = NULL, owner_pid = NULL, owner_boot = NULL`;

/** The error for a lease that is no longer current: `lock_lost`, `leadership_lost` or `pool_item_lost`. */
export function lostError(lease: Lease): LockLostError | LeadershipLostError | PoolItemLostError {
  if (lease.kind === 'pool') return new PoolItemLostError(lease.name, lease.fence);
  return lease.kind === 'lock'
    ? new LockLostError(lease.name, lease.fence)
    : new LeadershipLostError(lease.name, lease.fence);
}

/** The wake-up key of a lease: `lock:<name>`, `leader:<group>`; every item of a pool wakes `pool:<pool>`. */
export function leaseKey(kind: LeaseKind, name: string): string {
  if (kind === 'pool') return `pool:${name.slice(0, name.indexOf('/'))}`;
  return `${kind}:${name}`;
}

/** The holder name recorded for a local process: `<node>/<pid>`. */
export function processHolder(ctx: PrimitivesContext, pid: Pid): string {
  return `${ctx.nodeId}/${pid.toString()}`;
}

function toState(row: LeaseRow): LeaseState {
  return {
    name: row.name,
    holder: row.holder,
    fence: Number(row.fence),
    acquiredAt: Number(row.acquired_at),
    expiresAt: Number(row.expires_at),
  };
}

/** The live lease of `name`, read through `db` at clock time `now`; undefined when free or expired. */
export async function readLease(
  db: Executor,
  kind: LeaseKind,
  name: string,
  now: number,
): Promise<LeaseState | undefined> {
  const rows = await db.query<LeaseRow>(
    `SELECT name, holder, fence, acquired_at, expires_at FROM garrison_coord_leases
      WHERE kind = $1 AND name = $2 AND holder IS NOT NULL AND expires_at > $3`,
    [kind, name, now],
  );
  return rows[0] === undefined ? undefined : toState(rows[0]);
}

/** The fence of `name`'s last lease (0 when it never had one), whether or not it is live. */
export async function lastFence(db: Executor, kind: LeaseKind, name: string): Promise<number> {
  const rows = await db.query<{ fence: number | string }>(
    'SELECT fence FROM garrison_coord_leases WHERE kind = $1 AND name = $2',
    [kind, name],
  );
  return rows[0] === undefined ? 0 : Number(rows[0].fence);
}

/** The runtime process holding a lease: its node, pid number and that node's coordination boot. */
export interface LeaseOwner {
  readonly node: string;
  readonly pid: number;
  readonly boot: string;
}

/**
 * Takes `name` for `holder` inside `tx` if it is free or its lease expired at `now`; announces the new
 * holder with the commit (a leader watch sees the new term). The lease, or undefined when it is held.
 */
export async function takeIn(
  ctx: PrimitivesContext,
  tx: Executor,
  kind: LeaseKind,
  name: string,
  holder: string,
  ttlMs: number,
  owner: LeaseOwner | undefined,
  now: number,
): Promise<Omit<Lease, 'process'> | undefined> {
  const token = randomUUID();
  const expiresAt = now + ttlMs;
  const rows = await tx.query<{ fence: number | string }>(
    `INSERT INTO garrison_coord_leases
       (kind, name, holder, token, fence, acquired_at, expires_at, owner_node, owner_pid, owner_boot)
     VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9)
     ON CONFLICT (kind, name) DO UPDATE SET
       holder = excluded.holder, token = excluded.token, fence = garrison_coord_leases.fence + 1,
       acquired_at = excluded.acquired_at, expires_at = excluded.expires_at,
       owner_node = excluded.owner_node, owner_pid = excluded.owner_pid, owner_boot = excluded.owner_boot
     WHERE garrison_coord_leases.holder IS NULL OR garrison_coord_leases.expires_at <= $5
     RETURNING fence`,
    [kind, name, holder, token, now, expiresAt, owner?.node ?? null, owner?.pid ?? null, owner?.boot ?? null],
  );
  const taken = rows[0];
  if (taken === undefined) return undefined;
  // A leader watch sees the new term; a pool's waiters see an item granted. A lock's waiters need nothing.
  if (kind !== 'lock') await ctx.wakeups.announce(leaseKey(kind, name));
  return { kind, name, holder, token, fence: Number(taken.fence), acquiredAt: now, expiresAt, ttlMs };
}

/** Takes `name` for `holder` if it is free or its lease expired; one transaction. */
export async function tryTake(
  ctx: PrimitivesContext,
  kind: LeaseKind,
  name: string,
  holder: string,
  ttlMs: number,
  process: Pid | undefined,
): Promise<TakeResult> {
  const owner = process === undefined ? undefined : { node: ctx.nodeId, pid: process.id, boot: ctx.boot };
  return ctx.store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const taken = await takeIn(ctx, tx, kind, name, holder, ttlMs, owner, now);
    if (taken === undefined) return { lease: undefined, current: await readLease(tx, kind, name, now) };
    return { lease: { ...taken, process }, current: undefined };
  });
}

/** Extends `lease` to now + `ttlMs`; `lock_lost`/`leadership_lost` when it is not current or expired. */
export async function renewLease(ctx: PrimitivesContext, lease: Lease, ttlMs: number): Promise<Lease> {
  const result = await ctx.store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const updated = await tx.execute(
      `UPDATE garrison_coord_leases SET expires_at = $4
        WHERE kind = $1 AND name = $2 AND token = $3 AND expires_at > $5`,
      [lease.kind, lease.name, lease.token, now + ttlMs, now],
    );
    return updated.rowCount === 1 ? now + ttlMs : undefined;
  });
  if (result === undefined) throw lostError(lease);
  return { ...lease, expiresAt: result, ttlMs };
}

/**
 * Frees the lease with `token` and announces it, inside `tx`. True when it was the current one (live or
 * expired but not yet taken over).
 */
export async function freeLease(
  ctx: PrimitivesContext,
  tx: Executor,
  kind: LeaseKind,
  name: string,
  token: string,
): Promise<boolean> {
  const freed = await tx.execute(
    `UPDATE garrison_coord_leases SET ${FREE} WHERE kind = $1 AND name = $2 AND token = $3`,
    [kind, name, token],
  );
  if (freed.rowCount === 0) return false;
  await ctx.wakeups.announce(leaseKey(kind, name));
  return true;
}

/** Work done in a release's transaction: `before` freeing (take locks in order), `after` it (hand on). */
export interface ReleaseHooks {
  readonly before?: (tx: Executor) => Promise<void>;
  readonly after?: (tx: Executor) => Promise<void>;
}

/**
 * Frees `lease` (with `hooks` in the same transaction); `lock_lost`, `leadership_lost` or
 * `pool_item_lost` when it was taken over (or freed) already — nothing is changed then.
 */
export async function releaseLease(
  ctx: PrimitivesContext,
  lease: Lease,
  hooks: ReleaseHooks = {},
): Promise<void> {
  const freed = await ctx.store.transaction(async (tx) => {
    await hooks.before?.(tx);
    if (!(await freeLease(ctx, tx, lease.kind, lease.name, lease.token))) return false;
    await hooks.after?.(tx);
    return true;
  });
  if (!freed) throw lostError(lease);
}

/** A lease row as stored, free or held, with its token: for the module that hands out pool items. */
export interface LeaseRowState {
  readonly name: string;
  readonly holder: string | undefined;
  readonly token: string | undefined;
  readonly fence: number;
  readonly acquiredAt: number | undefined;
  readonly expiresAt: number | undefined;
}

/** Every lease row of `kind` whose name starts with `prefix`, by name (live or not). */
export async function leasesWithPrefix(
  db: Executor,
  kind: LeaseKind,
  prefix: string,
): Promise<LeaseRowState[]> {
  const rows = await db.query<{
    name: string;
    holder: string | null;
    token: string | null;
    fence: number | string;
    acquired_at: number | string | null;
    expires_at: number | string | null;
  }>(
    `SELECT name, holder, token, fence, acquired_at, expires_at FROM garrison_coord_leases
      WHERE kind = $1 AND substr(name, 1, $3) = $2 ORDER BY name`,
    [kind, prefix, prefix.length],
  );
  return rows.map((r) => ({
    name: r.name,
    holder: r.holder ?? undefined,
    token: r.token ?? undefined,
    fence: Number(r.fence),
    acquiredAt: r.acquired_at === null ? undefined : Number(r.acquired_at),
    expiresAt: r.expires_at === null ? undefined : Number(r.expires_at),
  }));
}

/** Live leases of `kind` by name, after the name `after`, at most `limit`: the listing of locks and leaders. */
export async function listLiveLeases(
  db: Executor,
  kind: LeaseKind,
  now: number,
  after: string | undefined,
  limit: number,
): Promise<LeaseState[]> {
  const rows = await db.query<LeaseRow>(
    `SELECT name, holder, fence, acquired_at, expires_at FROM garrison_coord_leases
      WHERE kind = $1 AND holder IS NOT NULL AND expires_at > $2 AND name > $3
      ORDER BY name LIMIT $4`,
    [kind, now, after ?? '', limit],
  );
  return rows.map(toState);
}

/** True when `lease` is the current, unexpired lease of its name. */
export async function isCurrent(ctx: PrimitivesContext, lease: Lease): Promise<boolean> {
  const rows = await ctx.store.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM garrison_coord_leases
      WHERE kind = $1 AND name = $2 AND token = $3 AND expires_at > $4`,
    [lease.kind, lease.name, lease.token, ctx.clock.now()],
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

/**
 * Frees every lease held by a process of an earlier boot of this node: after a crash and restart those
 * processes cannot be alive, so their leases need not wait for expiry. One transaction.
 */
export async function freeOrphans(ctx: PrimitivesContext): Promise<Array<{ kind: LeaseKind; name: string }>> {
  return ctx.store.transaction(async (tx) => {
    const rows = await tx.query<{ kind: LeaseKind; name: string; token: string }>(
      `SELECT kind, name, token FROM garrison_coord_leases
        WHERE owner_node = $1 AND owner_boot <> $2 AND holder IS NOT NULL
        ORDER BY kind, name${forUpdate(ctx)}`,
      [ctx.nodeId, ctx.boot],
    );
    for (const row of rows) await freeLease(ctx, tx, row.kind, row.name, row.token);
    return rows.map((r) => ({ kind: r.kind, name: r.name }));
  });
}

/**
 * Frees every lock and leadership held by a process of node `nodeId`, whatever its boot, and wakes their
 * waiters on every node; answers what it freed (`kind:name`). For a node that has stopped its runtime (a
 * drained node): none of its processes is alive, so none of their leases need wait for its expiry.
 */
export async function releaseNodeLeases(store: Store, nodeId: string): Promise<string[]> {
  const keys = await store.transaction(async (tx) => {
    const lock = store.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const rows = await tx.query<{ kind: LeaseKind; name: string }>(
      `SELECT kind, name FROM garrison_coord_leases WHERE owner_node = $1 AND holder IS NOT NULL
        ORDER BY kind, name${lock}`,
      [nodeId],
    );
    if (rows.length > 0)
      await tx.execute(
        `UPDATE garrison_coord_leases SET ${FREE} WHERE owner_node = $1 AND holder IS NOT NULL`,
        [nodeId],
      );
    return rows.map((r) => leaseKey(r.kind, r.name));
  });
  for (const key of keys) await store.notify(COORDINATION_CHANNEL, key);
  return keys;
}
