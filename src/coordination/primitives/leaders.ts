/**
 * Leader election: a group's leadership is a lease whose fence is the term. A campaign wins when nobody
 * holds a live lease; each win begins a new term, one greater than the last, so exactly one candidate
 * leads each term and terms only grow. The leader keeps leading by renewing within `ttlMs`; when it
 * resigns, its process exits, or it stops renewing, the next campaign wins the next term.
 */
import { z } from 'zod';
import type { Pid } from '../../runtime/index.js';
import type { PrimitivesContext } from './context.js';
import type { LeaseService } from './lease-service.js';
import { readLease, type Lease, type LeaseState } from './leases.js';
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

function toInfo(state: LeaseState): LeaderInfo {
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
  };
}
