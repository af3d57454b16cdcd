/** Taking, renewing and freeing leases for locks, leadership and pool items: holders, waiting and process monitors. */
import { Pid } from '../../runtime/index.js';
import type { PrimitivesContext } from './context.js';
import { isCoordinationError } from './errors.js';
import {
  isCurrent,
  leaseKey,
  processHolder,
  releaseLease,
  renewLease,
  tryTake,
  type Lease,
  type LeaseKind,
  type ReleaseHooks,
  type TakeResult,
} from './leases.js';
import type { ProcessHolds } from './process-holds.js';
import { TIMED_OUT, waitUntil } from './wakeups.js';

export class LeaseService {
  constructor(
    private readonly ctx: PrimitivesContext,
    private readonly holds: ProcessHolds,
  ) {}

  /**
   * Takes `name` for `holder`, waiting up to `waitMs` for the current lease to be freed or to expire.
   * A process holder must be alive at every try, and is monitored once it holds the lease.
   */
  async take(
    kind: LeaseKind,
    name: string,
    holder: string | Pid,
    ttlMs: number,
    waitMs: number,
  ): Promise<TakeResult> {
    const process = holder instanceof Pid ? holder : undefined;
    const holderName = process === undefined ? (holder as string) : processHolder(this.ctx, process);
    const attempt = () => {
      if (process !== undefined) this.holds.check(process);
      return tryTake(this.ctx, kind, name, holderName, ttlMs, process);
    };
    let last!: TakeResult;
    if (waitMs === 0) {
      last = await attempt();
    } else {
      const deadline = this.ctx.clock.now() + waitMs;
      const outcome = await waitUntil(
        this.ctx.wakeups,
        this.ctx.clock,
        this.ctx.pollMs,
        leaseKey(kind, name),
        deadline,
        async () => {
          last = await attempt();
          return last.lease !== undefined
            ? { done: true, value: last }
            : { done: false, wakeAt: last.current?.expiresAt };
        },
      );
      if (outcome !== TIMED_OUT) last = outcome;
    }
    if (last.lease !== undefined) this.holds.add(last.lease);
    return last;
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    try {
      return await renewLease(this.ctx, lease, ttlMs);
    } catch (error) {
      // Lost for good: nothing left to free when the process exits. A store failure keeps the watch.
      if (isCoordinationError(error)) this.holds.forget(lease);
      throw error;
    }
  }

  /** Throws unless `pid` may hold a lease (the primitives have a runtime and it is alive). */
  checkProcess(pid: Pid): void {
    this.holds.check(pid);
  }

  /** Watches the process of a lease taken elsewhere (a pool item granted to a waiting process). */
  adopt(lease: Lease): void {
    this.holds.add(lease);
  }

  /** Frees `lease`, with `hooks` in the same transaction (a pool hands its item on). */
  async release(lease: Lease, hooks?: ReleaseHooks): Promise<void> {
    try {
      await releaseLease(this.ctx, lease, hooks);
    } catch (error) {
      if (isCoordinationError(error)) this.holds.forget(lease);
      throw error;
    }
    this.holds.forget(lease);
  }

  isCurrent(lease: Lease): Promise<boolean> {
    return isCurrent(this.ctx, lease);
  }
}
