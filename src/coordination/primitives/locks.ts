/**
 * Locks: a named lease with a fencing number. Whoever holds a lock's current lease may renew or release
 * it; once it expires anyone may take it over, and the holder that was taken over can do neither
 * (`lock_lost`). Every new lease of a lock has a greater fence, so a resource that remembers the highest
 * fence it has seen can refuse a late write from a holder that was taken over.
 */
import { z } from 'zod';
import type { Pid } from '../../runtime/index.js';
import type { PrimitivesContext } from './context.js';
import { LockTimeoutError } from './errors.js';
import type { LeaseService } from './lease-service.js';
import { readLease, type Lease, type LeaseState } from './leases.js';
import { holderSchema, nameSchema, parse, ttlSchema, waitSchema } from './validate.js';

export interface LockAcquireOptions {
  /**
   * Who takes the lock: a name, or a process of the local runtime — monitored, and its exit releases
   * the lock at once (a named process: pass `runtime.whereis(name)`).
   */
  readonly holder: string | Pid;
  /** The lease's length, ms: unless renewed within it, the lock may be taken over once it passes. */
  readonly ttlMs: number;
  /** How long to wait while the lock is held, ms. Default 0: one try, then `lock_timeout`. */
  readonly waitMs?: number;
}

export interface LockRenewOptions {
  /** The new lease length from now, ms. Default: the lease's `ttlMs`. */
  readonly ttlMs?: number;
}

/** A held lock. Keep it: renew and release take it back. */
export interface LockLease extends Lease {
  readonly kind: 'lock';
}

/** Who holds a lock now. */
export type LockStatus = LeaseState;

export interface CoordinationLocks {
  /** Takes the lock, waiting up to `waitMs` while another holder's lease is live; `lock_timeout` if not. */
  acquire(name: string, options: LockAcquireOptions): Promise<LockLease>;
  /** One try: the lease, or undefined when the lock is held. */
  tryAcquire(name: string, options: Omit<LockAcquireOptions, 'waitMs'>): Promise<LockLease | undefined>;
  /** Extends the lease from now; `lock_lost` when it expired or was released or taken over. */
  renew(lease: LockLease, options?: LockRenewOptions): Promise<LockLease>;
  /** Frees the lock and wakes its waiters; `lock_lost` when the lease was taken over or released. */
  release(lease: LockLease): Promise<void>;
  /** Whether anyone holds a live lease of the lock now. */
  isHeld(name: string): Promise<boolean>;
  /** Whether `lease` is still the lock's current, live lease. */
  holds(lease: LockLease): Promise<boolean>;
  /** The live lease of the lock, or undefined when it is free. */
  status(name: string): Promise<LockStatus | undefined>;
}

const acquireSchema = z.strictObject({
  holder: holderSchema,
  ttlMs: ttlSchema,
  waitMs: waitSchema.default(0),
});
const leaseSchema = z.looseObject({
  kind: z.literal('lock'),
  name: nameSchema,
  token: z.string().min(1),
  fence: z.number().int().min(1),
  ttlMs: ttlSchema,
});
const renewSchema = z.strictObject({ ttlMs: ttlSchema.optional() });

export function createLocks(ctx: PrimitivesContext, leases: LeaseService): CoordinationLocks {
  const checkLease = (lease: LockLease): LockLease => {
    parse(leaseSchema, lease, 'lock lease');
    return lease;
  };
  const take = async (name: string, options: unknown, what: string) => {
    const n = parse(nameSchema, name, 'lock name');
    const o = parse(acquireSchema, options, what);
    const taken = await leases.take('lock', n, o.holder, o.ttlMs, o.waitMs);
    return { taken, waitMs: o.waitMs };
  };
  return {
    async acquire(name, options) {
      const { taken, waitMs } = await take(name, options, 'lock options');
      if (taken.lease === undefined) throw new LockTimeoutError(name, waitMs, taken.current?.holder);
      return taken.lease as LockLease;
    },
    async tryAcquire(name, options) {
      const { taken } = await take(name, { ...options, waitMs: 0 }, 'lock options');
      return taken.lease as LockLease | undefined;
    },
    async renew(lease, options = {}) {
      const l = checkLease(lease);
      const o = parse(renewSchema, options, 'renew options');
      return (await leases.renew(l, o.ttlMs ?? l.ttlMs)) as LockLease;
    },
    async release(lease) {
      await leases.release(checkLease(lease));
    },
    async isHeld(name) {
      return (
        (await readLease(ctx.store, 'lock', parse(nameSchema, name, 'lock name'), ctx.clock.now())) !==
        undefined
      );
    },
    async holds(lease) {
      return leases.isCurrent(checkLease(lease));
    },
    async status(name) {
      return readLease(ctx.store, 'lock', parse(nameSchema, name, 'lock name'), ctx.clock.now());
    },
  };
}
