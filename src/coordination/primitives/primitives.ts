/**
 * The coordination primitives of one node: locks, leader election, barriers, consensus and resource
 * pools, all kept in
 * the store. One instance per node (or per runtime); several nodes on one PostgreSQL database coordinate
 * through it, and on SQLite the processes of one database file do.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AgentRegistry } from '../../registry/index.js';
import type { Clock, Runtime } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { createBarriers, type CoordinationBarriers } from './barriers.js';
import { createCapabilityCoordination, type CapabilityCoordination } from './capability.js';
import { createConsensus, type CoordinationConsensus } from './consensus.js';
import type { PrimitivesContext } from './context.js';
import { createLeaderElection, type LeaderElection } from './leaders.js';
import { LeaseService } from './lease-service.js';
import { freeOrphans } from './leases.js';
import { createLocks, type CoordinationLocks } from './locks.js';
import { createPools, dropOrphanWaiters, type CoordinationPools } from './pools.js';
import { ProcessHolds } from './process-holds.js';
import { MAX_MS, nameSchema, parse } from './validate.js';
import { Wakeups } from './wakeups.js';

export interface CoordinationPrimitivesOptions {
  readonly store: Store;
  /** Every time and wait is taken from it (the runtime's clock; a `VirtualClock` in tests). */
  readonly clock: Clock;
  /** This node's id, unique among the nodes sharing the store; recorded with leases held by its processes. */
  readonly nodeId: string;
  /** The runtime whose processes may hold locks and leadership (monitored). Default: none — names only. */
  readonly runtime?: Runtime;
  /**
   * The longest a waiter sleeps between two looks at the store, ms. Wake-ups (PostgreSQL LISTEN/NOTIFY,
   * or this store's own commits) and known expiries come sooner; this covers the ones that cannot come
   * (another process on the same SQLite file, a LISTEN connection lost for a while).
   * Default: 5000 where the store notifies other processes, 1000 where it does not.
   */
  readonly pollMs?: number;
  /** Receives failures no caller awaits (freeing the leases of an exited process). Default: a process warning. */
  readonly onError?: (error: unknown) => void;
  /** The agent registry: with it, `capability` runs consensus and barriers among an agent capability. */
  readonly registry?: Pick<AgentRegistry, 'findCapableHealthy'>;
}

/** Counters of a node's primitives. */
export interface CoordinationPrimitivesStats {
  /** Callers waiting now (for a lock, a leadership, a barrier or a decision). */
  readonly waiting: number;
  /** Local processes holding leases now (one monitor each). */
  readonly holdingProcesses: number;
  /** Leases freed because their process exited. */
  readonly releasedOnExit: number;
}

const optionsSchema = z.object({
  nodeId: nameSchema,
  pollMs: z.number().int().min(1).max(MAX_MS).optional(),
  onError: z.function().optional(),
});

function warn(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`coordination primitives: ${message}`, 'GarrisonWarning');
}

export class CoordinationPrimitives {
  readonly locks: CoordinationLocks;
  readonly leaders: LeaderElection;
  readonly barriers: CoordinationBarriers;
  readonly consensus: CoordinationConsensus;
  readonly pools: CoordinationPools;
  /** Consensus and barriers among the agents with a capability; undefined without `registry`. */
  readonly capability: CapabilityCoordination | undefined;
  readonly nodeId: string;
  /** This instance's boot id: leases of processes of an earlier boot of the node are freed by `recover`. */
  readonly boot: string;
  private readonly ctx: PrimitivesContext;
  private readonly holds: ProcessHolds;
  private closed = false;

  constructor(options: CoordinationPrimitivesOptions) {
    const o = parse(optionsSchema, options, 'coordination primitives options');
    this.nodeId = o.nodeId;
    this.boot = randomUUID();
    const wakeups = new Wakeups(options.store, options.clock);
    this.ctx = {
      store: options.store,
      clock: options.clock,
      runtime: options.runtime,
      nodeId: o.nodeId,
      boot: this.boot,
      pollMs: o.pollMs ?? (options.store.capabilities.notify ? 5000 : 1000),
      wakeups,
      onError: options.onError ?? warn,
    };
    this.holds = new ProcessHolds(this.ctx);
    const leases = new LeaseService(this.ctx, this.holds);
    this.locks = createLocks(this.ctx, leases);
    this.leaders = createLeaderElection(this.ctx, leases);
    this.barriers = createBarriers(this.ctx);
    this.consensus = createConsensus(this.ctx);
    this.pools = createPools(this.ctx, leases);
    this.capability =
      options.registry === undefined
        ? undefined
        : createCapabilityCoordination(this.ctx, options.registry, this.consensus, this.barriers);
  }

  /**
   * Frees every lock, leadership and pool item held by a process of an earlier boot of this node (it
   * cannot be alive) and wakes their waiters, and takes that boot's processes out of pools' wait queues;
   * returns how many leases it freed. Call it when the node starts (a node does): without it those
   * leases are taken over only when they expire. Needs node ids that no two live nodes share.
   */
  async recover(): Promise<number> {
    const freed = (await freeOrphans(this.ctx)).length;
    await dropOrphanWaiters(this.ctx);
    return freed;
  }

  /** Resolves once every release started by a holder's exit has committed (or failed). */
  idle(): Promise<void> {
    return this.holds.idle();
  }

  stats(): CoordinationPrimitivesStats {
    return {
      waiting: this.ctx.wakeups.waiting,
      holdingProcesses: this.holds.processes,
      releasedOnExit: this.holds.releasedOnExit,
    };
  }

  /**
   * Ends every wait with `coordination_closed`, lets releases in flight finish, and stops watching
   * holder processes. Leases stay in the store (released, expired or recovered later); the store is the
   * caller's to close.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ctx.wakeups.close();
    await this.holds.idle();
    this.holds.close();
  }
}

/** Creates a node's coordination primitives. */
export function createCoordinationPrimitives(options: CoordinationPrimitivesOptions): CoordinationPrimitives {
  return new CoordinationPrimitives(options);
}
