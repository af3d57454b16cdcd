/**
 * Barriers: a named meeting point for a fixed number of parties. Each arrival is a row, so arrivals
 * survive a restart and arriving twice counts once; the barrier opens in the transaction of the arrival
 * that completes it, and that commit wakes every waiter on every node.
 */
import { z } from 'zod';
import type { Executor } from '../../store/index.js';
import { forUpdate, type PrimitivesContext } from './context.js';
import { BarrierExistsError, BarrierFullError, BarrierNotFoundError, BarrierTimeoutError } from './errors.js';
import { nameSchema, parse, waitSchema } from './validate.js';
import { TIMED_OUT, waitUntil } from './wakeups.js';

/** A barrier as stored. */
export interface BarrierStatus {
  readonly name: string;
  /** Participants it waits for. */
  readonly parties: number;
  /** Distinct participants arrived so far. */
  readonly arrived: number;
  /** Whether every party has arrived. */
  readonly released: boolean;
  /** When the last party arrived, UNIX epoch ms; undefined until then. */
  readonly releasedAt: number | undefined;
  /** UNIX epoch ms. */
  readonly createdAt: number;
}

/** What an arrival found. */
export interface Arrival extends BarrierStatus {
  /** False when this participant had arrived before (its first arrival stands). */
  readonly counted: boolean;
}

export interface CoordinationBarriers {
  /**
   * Creates a barrier for `parties` participants. Creating it again with the same number is a no-op;
   * with another number, `barrier_exists`.
   */
  create(name: string, parties: number): Promise<BarrierStatus>;
  /**
   * Records `participant`'s arrival (idempotent) and opens the barrier when it completes the parties.
   * `barrier_not_found`; `barrier_full` for a new participant once the barrier has opened.
   */
  arrive(name: string, participant: string): Promise<Arrival>;
  /** Resolves when every party has arrived; `barrier_timeout` after `timeoutMs`. */
  wait(name: string, options: { readonly timeoutMs: number }): Promise<BarrierStatus>;
  /** The barrier now; `barrier_not_found`. */
  status(name: string): Promise<BarrierStatus>;
  /** The participants arrived so far, in arrival order. */
  arrivals(name: string): Promise<Array<{ readonly participant: string; readonly arrivedAt: number }>>;
  /** Deletes the barrier and its arrivals (its name may be created again); false when there was none. */
  remove(name: string): Promise<boolean>;
}

interface BarrierRow {
  name: string;
  parties: number | string;
  arrived: number | string;
  created_at: number | string;
  released_at: number | string | null;
}

const partiesSchema = z.number().int().min(1).max(1_000_000);
const waitOptionsSchema = z.strictObject({ timeoutMs: waitSchema });

function toStatus(row: BarrierRow): BarrierStatus {
  return {
    name: row.name,
    parties: Number(row.parties),
    arrived: Number(row.arrived),
    released: row.released_at !== null,
    releasedAt: row.released_at === null ? undefined : Number(row.released_at),
    createdAt: Number(row.created_at),
  };
}

const COLUMNS = 'name, parties, arrived, created_at, released_at';

async function readBarrier(db: Executor, name: string, lock = ''): Promise<BarrierRow | undefined> {
  const rows = await db.query<BarrierRow>(
    `SELECT ${COLUMNS} FROM garrison_coord_barriers WHERE name = $1${lock}`,
    [name],
  );
  return rows[0];
}

export function createBarriers(ctx: PrimitivesContext): CoordinationBarriers {
  const key = (name: string) => `barrier:${name}`;
  const status = async (name: string): Promise<BarrierStatus> => {
    const row = await readBarrier(ctx.store, name);
    if (row === undefined) throw new BarrierNotFoundError(name);
    return toStatus(row);
  };
  return {
    async create(name, parties) {
      const n = parse(nameSchema, name, 'barrier name');
      const p = parse(partiesSchema, parties, 'barrier parties');
      const row = await ctx.store.transaction(async (tx) => {
        await tx.execute(
          `INSERT INTO garrison_coord_barriers (name, parties, arrived, created_at)
           VALUES ($1, $2, 0, $3) ON CONFLICT (name) DO NOTHING`,
          [n, p, ctx.clock.now()],
        );
        return readBarrier(tx, n);
      });
      if (row === undefined) throw new BarrierNotFoundError(n); // removed in between: nothing to create on
      if (Number(row.parties) !== p) throw new BarrierExistsError(n, Number(row.parties), p);
      return toStatus(row);
    },

    async arrive(name, participant) {
      const n = parse(nameSchema, name, 'barrier name');
      const who = parse(nameSchema, participant, 'participant');
      return ctx.store.transaction(async (tx) => {
        // The barrier row is locked first: concurrent arrivals count one after the other.
        const row = await readBarrier(tx, n, forUpdate(ctx));
        if (row === undefined) throw new BarrierNotFoundError(n);
        const now = ctx.clock.now();
        const known = await tx.query<{ participant: string }>(
          'SELECT participant FROM garrison_coord_barrier_arrivals WHERE barrier = $1 AND participant = $2',
          [n, who],
        );
        if (known.length > 0) return { ...toStatus(row), counted: false };
        if (row.released_at !== null) throw new BarrierFullError(n, Number(row.parties), who);
        await tx.execute(
          'INSERT INTO garrison_coord_barrier_arrivals (barrier, participant, arrived_at) VALUES ($1, $2, $3)',
          [n, who, now],
        );
        const arrived = Number(row.arrived) + 1;
        const opens = arrived >= Number(row.parties);
        await tx.execute(
          'UPDATE garrison_coord_barriers SET arrived = $2, released_at = $3 WHERE name = $1',
          [n, arrived, opens ? now : null],
        );
        if (opens) await ctx.wakeups.announce(key(n));
        return {
          ...toStatus({ ...row, arrived, released_at: opens ? now : null }),
          counted: true,
        };
      });
    },

    async wait(name, options) {
      const n = parse(nameSchema, name, 'barrier name');
      const { timeoutMs } = parse(waitOptionsSchema, options, 'wait options');
      let last: BarrierStatus | undefined;
      const outcome = await waitUntil<BarrierStatus>(
        ctx.wakeups,
        ctx.clock,
        ctx.pollMs,
        key(n),
        ctx.clock.now() + timeoutMs,
        async () => {
          const now = await status(n);
          last = now;
          return now.released ? { done: true, value: now } : { done: false };
        },
      );
      if (outcome !== TIMED_OUT) return outcome;
      const seen = last ?? (await status(n));
      throw new BarrierTimeoutError(n, timeoutMs, seen.arrived, seen.parties);
    },

    async status(name) {
      return status(parse(nameSchema, name, 'barrier name'));
    },

    async arrivals(name) {
      const n = parse(nameSchema, name, 'barrier name');
      await status(n);
      const rows = await ctx.store.query<{ participant: string; arrived_at: number | string }>(
        `SELECT participant, arrived_at FROM garrison_coord_barrier_arrivals WHERE barrier = $1
          ORDER BY arrived_at, participant`,
        [n],
      );
      return rows.map((r) => ({ participant: r.participant, arrivedAt: Number(r.arrived_at) }));
    },

    async remove(name) {
      const n = parse(nameSchema, name, 'barrier name');
      return ctx.store.transaction(async (tx) => {
        await tx.execute('DELETE FROM garrison_coord_barrier_arrivals WHERE barrier = $1', [n]);
        const deleted = await tx.execute('DELETE FROM garrison_coord_barriers WHERE name = $1', [n]);
        if (deleted.rowCount > 0) await ctx.wakeups.announce(key(n));
        return deleted.rowCount > 0;
      });
    },
  };
}
