/**
 * Leader election: a group's leadership is a lease whose fence is the term. A campaign wins when nobody
 * holds a live lease; each win begins a new term, one greater than the last, so exactly one candidate
 * leads each term and terms only grow. The leader keeps leading by renewing within `ttlMs`; when it
 * resigns, its process exits, or it stops renewing, the next campaign wins the next term.
 */
import { z } from 'zod';
import type { Pid } from '../../runtime/index.js';
import type { PrimitivesContext } from './context.js';
import { isCoordinationError } from './errors.js';
import type { LeaseService } from './lease-service.js';
import { leaseKey, readLease, type Lease, type LeaseState } from './leases.js';
import { holderSchema, nameSchema, parse, ttlSchema, waitSchema } from './validate.js';

export interface CampaignOptions {
  /** The leadership lease's length, ms: a leader that does not renew within it loses the leadership. */
  readonly ttlMs: number;
  /** How long to keep campaigning while another candidate leads, ms. Default 0: one try. */
  readonly waitMs?: number;
}

/** Leadership of a group for one term. Keep it: renew and resign take it back. */
export interface LeaderLease extends Lease {
  readonly kind: 'leader';
  /** The group (the lease's name). */
  readonly group: string;
  /** The term this leadership is (the lease's fence). */
  readonly term: number;
}

/** The group's leader now. */
export interface LeaderInfo {
  readonly group: string;
  /** The leader: a candidate name, or `<node>/<pid>` for a process. */
  readonly leader: string;
  readonly term: number;
  /** When this term began, UNIX epoch ms. */
  readonly since: number;
  /** When the leadership ends unless renewed, UNIX epoch ms. */
  readonly expiresAt: number;
}

export type CampaignResult =
  | { readonly elected: true; readonly lease: LeaderLease }
  | { readonly elected: false; readonly leader: LeaderInfo | undefined };

/** A change of a group's leadership, as a watch sees it. */
export interface LeaderChange {
  readonly group: string;
  /** The leader now; undefined when nobody leads (resigned, expired, its process exited). */
  readonly leader: LeaderInfo | undefined;
  /** The leader before the change. */
  readonly previous: LeaderInfo | undefined;
}

/** A running watch of a group's leadership. */
export interface LeaderWatch {
  /** The leader when the watch began. */
  readonly initial: LeaderInfo | undefined;
  /** Stops the watch: no change is reported after it. */
  stop(): void;
}

export interface LeaderElection {
  /**
   * Tries to become the group's leader, for up to `waitMs` while another leads. A candidate leading
   * already is not elected again (the result names it as the leader): it keeps its term by renewing.
   */
  campaign(group: string, candidate: string | Pid, options: CampaignOptions): Promise<CampaignResult>;
  /** The group's current leader, or undefined when nobody leads (never elected, resigned, or expired). */
  leader(group: string): Promise<LeaderInfo | undefined>;
  /** Extends the leadership from now; `leadership_lost` when it expired, was resigned or superseded. */
  renew(lease: LeaderLease, options?: { readonly ttlMs?: number }): Promise<LeaderLease>;
  /** Gives the leadership up and wakes campaigners; `leadership_lost` when it was lost already. */
  resign(lease: LeaderLease): Promise<void>;
  /** Whether `lease` is the group's current, live leadership. */
  isLeader(lease: LeaderLease): Promise<boolean>;
  /**
   * Calls `onChange` whenever the group's leader or term changes: a new term (on any node: the commit
   * announces it), a resignation, a holder's exit, or an expiry (woken by the clock at the lease's
   * end). Renewals are not changes. Resolves once it listens, with the leader then.
   */
  watch(group: string, onChange: (change: LeaderChange) => void): Promise<LeaderWatch>;
}

const campaignSchema = z.strictObject({ ttlMs: ttlSchema, waitMs: waitSchema.default(0) });
const leaseSchema = z.looseObject({
  kind: z.literal('leader'),
  name: nameSchema,
  token: z.string().min(1),
  fence: z.number().int().min(1),
  ttlMs: ttlSchema,
});
const renewSchema = z.strictObject({ ttlMs: ttlSchema.optional() });

function toLeaderLease(lease: Lease): LeaderLease {
  return { ...lease, kind: 'leader', group: lease.name, term: lease.fence };
}

export function toInfo(state: LeaseState): LeaderInfo {
  return {
    group: state.name,
    leader: state.holder,
    term: state.fence,
    since: state.acquiredAt,
    expiresAt: state.expiresAt,
  };
}

export function createLeaderElection(ctx: PrimitivesContext, leases: LeaseService): LeaderElection {
  const checkLease = (lease: LeaderLease): LeaderLease => {
    parse(leaseSchema, lease, 'leader lease');
    return lease;
  };
  return {
    async campaign(group, candidate, options) {
      const g = parse(nameSchema, group, 'group name');
      const c = parse(holderSchema, candidate, 'candidate');
      const o = parse(campaignSchema, options, 'campaign options');
      const taken = await leases.take('leader', g, c, o.ttlMs, o.waitMs);
      if (taken.lease !== undefined) return { elected: true, lease: toLeaderLease(taken.lease) };
      return { elected: false, leader: taken.current === undefined ? undefined : toInfo(taken.current) };
    },
    async leader(group) {
      const state = await readLease(
        ctx.store,
        'leader',
        parse(nameSchema, group, 'group name'),
        ctx.clock.now(),
      );
      return state === undefined ? undefined : toInfo(state);
    },
    async renew(lease, options = {}) {
      const l = checkLease(lease);
      const o = parse(renewSchema, options, 'renew options');
      return toLeaderLease(await leases.renew(l, o.ttlMs ?? l.ttlMs));
    },
    async resign(lease) {
      await leases.release(checkLease(lease));
    },
    async isLeader(lease) {
      return leases.isCurrent(checkLease(lease));
    },
    async watch(group, onChange) {
      const g = parse(nameSchema, group, 'group name');
      parse(z.function(), onChange, 'change listener');
      const read = async () => {
        const state = await readLease(ctx.store, 'leader', g, ctx.clock.now());
        return state === undefined ? undefined : toInfo(state);
      };
      const watch = await ctx.wakeups.watch(leaseKey('leader', g));
      let seen = watch.seen;
      let last: LeaderInfo | undefined;
      try {
        last = await read();
      } catch (error) {
        watch.close();
        throw error;
      }
      const initial = last;
      let stopped = false;
      const follow = async () => {
        while (!stopped) {
          const now = ctx.clock.now();
          // Woken by an announced change, at the leader's expiry, or after pollMs at the latest.
          const until = Math.min(last?.expiresAt ?? Infinity, now + ctx.pollMs);
          try {
            await watch.sleep(seen, Math.max(0, until - now));
          } catch (error) {
            if (isCoordinationError(error, 'coordination_closed')) return;
            throw error;
          }
          if (stopped) return;
          seen = watch.seen;
          try {
            const current = await read();
            if (current?.leader === last?.leader && current?.term === last?.term) {
              last = current;
              continue;
            }
            const previous = last;
            last = current;
            onChange({ group: g, leader: current, previous });
          } catch (error) {
            ctx.onError(error); // a store failure or a listener's: the watch goes on
          }
        }
      };
      follow().catch((error: unknown) => ctx.onError(error));
      return {
        initial,
        stop() {
          stopped = true;
          watch.close();
        },
      };
    },
  };
}
