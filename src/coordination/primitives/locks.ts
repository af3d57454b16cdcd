/**
 * Durable locks with fencing. A lock is a row; acquiring it is one atomic upsert that succeeds only when
 * the lock is free (released, or its lease expired) and bumps its fence. Renew and release name the fence,
 * so a holder that was paused past its lease and taken over fails with `lock_lost` instead of releasing
 * someone else's lock. A lock held for a local process (`owner`) is released in a committed transaction
 * when that process dies. Leader election is a lock per group whose fence is the term.
 */
import { z } from 'zod';
import { sleep } from '../../resilience/index.js';
import type { Clock, MonitorRef, ProcessRef, Runtime } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { PrimitiveError, PrimitiveErrorCode } from './errors.js';
import { check, ms, name } from './validate.js';

export interface LockToken {
  readonly name: string;
  readonly holder: string;
  /** Grows by one on every acquisition of this lock: a write fenced by it is refused once it is stale. */
  readonly fence: number;
  /** When the lease ends unless renewed, UNIX epoch ms. */
  readonly expiresAt: number;
}

export interface LockInfo {
  readonly holder: string;
  readonly fence: number;
  readonly expiresAt: number;
}

export interface AcquireOptions {
  /** Who holds it (a node, agent or process id). */
  readonly holder: string;
  /** Lease length, in ms. */
  readonly ttlMs: number;
  /** How long to wait for a held lock, in ms. Default 0: fail at once with `lock_timeout`. */
  readonly waitMs?: number;
  /** A local process: when it dies the lock is released. */
  readonly owner?: ProcessRef;
}

export interface LocksOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Needed for `owner`. */
  readonly runtime?: Runtime;
  /** How often a waiting `acquire` tries again, in ms. Default 50. */
  readonly retryMs?: number;
  /** Receives a failed release of a dead owner's lock (it then expires with its lease). */
  readonly onError?: (error: unknown) => void;
}

const acquireSchema = z.strictObject({
  holder: name,
  ttlMs: ms,
  waitMs: z.number().int().min(0).max(86_400_000).optional(),
  owner: z.unknown().optional(),
});

interface Row {
  holder: string | null;
  fence: number | string;
  expires_at: number | string;
}

export class Locks {
  private readonly o: LocksOptions;
  private readonly retryMs: number;
  private readonly monitors = new Map<string, MonitorRef>();

  constructor(options: LocksOptions) {
    this.o = options;
    this.retryMs = options.retryMs ?? 50;
  }

  /** Takes the lock if it is free; undefined when someone else holds it. */
  async tryAcquire(lock: string, options: AcquireOptions): Promise<LockToken | undefined> {
    check(name, lock, 'lock name');
    const o = check(acquireSchema, options, 'lock options');
    if (options.owner !== undefined && this.o.runtime === undefined)
      throw new PrimitiveError(
        PrimitiveErrorCode.lockLost,
        'an owner process needs the locks to have a runtime',
      );
    const now = this.o.clock.now();
    const expiresAt = now + o.ttlMs;
    const rows = await this.o.store.write((tx) =>
      tx.query<{ fence: number | string }>(
        'INSERT INTO garrison_locks (name, holder, fence, expires_at, acquired_at) VALUES ($1, $2, 1, $3, $4) ' +
          'ON CONFLICT (name) DO UPDATE SET holder = $2, fence = garrison_locks.fence + 1, expires_at = $3, ' +
          'acquired_at = $4 WHERE garrison_locks.holder IS NULL OR garrison_locks.expires_at <= $4 RETURNING fence',
        [lock, o.holder, expiresAt, now],
      ),
    );
    const fence = rows[0]?.fence;
    if (fence === undefined) return undefined;
    const token: LockToken = { name: lock, holder: o.holder, fence: Number(fence), expiresAt };
    if (options.owner !== undefined) this.watch(token, options.owner);
    return token;
  }

  /** Takes the lock, waiting up to `waitMs` for it; `lock_timeout` past that. */
  async acquire(lock: string, options: AcquireOptions): Promise<LockToken> {
    const deadline = this.o.clock.now() + (options.waitMs ?? 0);
    for (;;) {
      const token = await this.tryAcquire(lock, options);
      if (token !== undefined) return token;
      const left = deadline - this.o.clock.now();
      if (left <= 0) {
        const held = await this.holderOf(lock);
        throw new PrimitiveError(
          PrimitiveErrorCode.lockTimeout,
          `lock ${lock} is held by ${held?.holder ?? 'someone'}`,
          { lock, holder: held?.holder },
          true,
        );
      }
      await sleep(this.o.clock, Math.min(this.retryMs, left));
    }
  }

  /** Extends the lease; `lock_lost` when the token is stale or its lease already ended. */
  async renew(token: LockToken, ttlMs: number): Promise<LockToken> {
    check(ms, ttlMs, 'ttlMs');
    const now = this.o.clock.now();
    const expiresAt = now + ttlMs;
    const n = await this.o.store.write((tx) =>
      tx.execute(
        'UPDATE garrison_locks SET expires_at = $1 WHERE name = $2 AND fence = $3 AND holder = $4 AND expires_at > $5',
        [expiresAt, token.name, token.fence, token.holder, now],
      ),
    );
    if (n.rowCount === 0) throw this.lost(token);
    return { ...token, expiresAt };
  }

  /** Frees the lock; `lock_lost` when the token is stale (someone else took it over). */
  async release(token: LockToken): Promise<void> {
    this.unwatch(token);
    const n = await this.o.store.write((tx) =>
      tx.execute(
        'UPDATE garrison_locks SET holder = NULL, expires_at = 0 WHERE name = $1 AND fence = $2 AND holder = $3',
        [token.name, token.fence, token.holder],
      ),
    );
    if (n.rowCount === 0) throw this.lost(token);
  }

  /** Who holds the lock now (a live lease), or undefined. */
  async holderOf(lock: string): Promise<LockInfo | undefined> {
    const rows = await this.o.store.query<Row>(
      'SELECT holder, fence, expires_at FROM garrison_locks WHERE name = $1',
      [lock],
    );
    const r = rows[0];
    if (r === undefined || r.holder === null || Number(r.expires_at) <= this.o.clock.now()) return undefined;
    return { holder: r.holder, fence: Number(r.fence), expiresAt: Number(r.expires_at) };
  }

  /** True while `token` is the live holder of its lock. */
  async isHeld(token: LockToken): Promise<boolean> {
    const info = await this.holderOf(token.name);
    return info !== undefined && info.fence === token.fence && info.holder === token.holder;
  }

  private lost(token: LockToken): PrimitiveError {
    return new PrimitiveError(
      PrimitiveErrorCode.lockLost,
      `lock ${token.name} (fence ${token.fence}) is no longer held by ${token.holder}`,
      { lock: token.name, fence: token.fence },
    );
  }

  private key(token: LockToken): string {
    return `${token.name}\u0000${token.fence}`;
  }

  private watch(token: LockToken, owner: ProcessRef): void {
    const runtime = this.o.runtime as Runtime;
    const ref = runtime.monitor(
      owner,
      () => {
        this.monitors.delete(this.key(token));
        this.release(token).catch((error: unknown) => {
          // Already taken over or released: nothing to give back. Otherwise it expires with its lease.
          if ((error as { code?: string }).code !== PrimitiveErrorCode.lockLost) this.o.onError?.(error);
        });
      },
      { label: 'lock' },
    );
    this.monitors.set(this.key(token), ref);
  }

  private unwatch(token: LockToken): void {
    const ref = this.monitors.get(this.key(token));
    if (ref === undefined) return;
    this.monitors.delete(this.key(token));
    this.o.runtime?.demonitor(ref);
  }
}

export function createLocks(options: LocksOptions): Locks {
  return new Locks(options);
}

/** Leader election: one leader per group at a time; its term (the lock's fence) only grows. */
export class LeaderElection {
  constructor(private readonly locks: Locks) {}

  /** Becomes the leader of `group` if there is none; answers the term, or undefined. */
  async campaign(
    group: string,
    candidate: string,
    options: { ttlMs: number; owner?: ProcessRef },
  ): Promise<{ term: number; token: LockToken } | undefined> {
    const token = await this.locks.tryAcquire(`leader:${group}`, { holder: candidate, ...options });
    return token === undefined ? undefined : { term: token.fence, token };
  }

  /** Keeps the leadership; `lock_lost` when the term ended. */
  async renew(token: LockToken, ttlMs: number): Promise<LockToken> {
    return this.locks.renew(token, ttlMs);
  }

  async resign(token: LockToken): Promise<void> {
    await this.locks.release(token);
  }

  /** The current leader and its term, or undefined. */
  async leader(group: string): Promise<{ leader: string; term: number } | undefined> {
    const info = await this.locks.holderOf(`leader:${group}`);
    return info === undefined ? undefined : { leader: info.holder, term: info.fence };
  }
}
