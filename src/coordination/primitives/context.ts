/** What every primitive shares: the store, the clock, this node, and the wake-up channel. */
import type { Clock, Runtime } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { Wakeups } from './wakeups.js';

export interface PrimitivesContext {
  readonly store: Store;
  readonly clock: Clock;
  /** The local runtime whose processes may hold leases; undefined when none was given. */
  readonly runtime: Runtime | undefined;
  readonly nodeId: string;
  /** This service's boot: leases of an earlier boot of the same node belong to dead processes. */
  readonly boot: string;
  /** Longest sleep of a waiter between two looks at the store, ms. */
  readonly pollMs: number;
  readonly wakeups: Wakeups;
  /** Receives failures no caller awaits (a release after a holder's death). */
  readonly onError: (error: unknown) => void;
}

/** `SELECT … FOR UPDATE` on PostgreSQL (row lock for the rest of the transaction); SQLite has one writer. */
export function forUpdate(ctx: PrimitivesContext): string {
  return ctx.store.dialect === 'postgres' ? ' FOR UPDATE' : '';
}
