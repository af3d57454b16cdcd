/**
 * Durable barriers: `parties` participants must arrive before anyone waiting goes on. Arrivals are rows
 * (idempotent per participant), so they survive restarts; `wait` checks the store on the injected clock
 * until everyone is there or its timeout passes (`barrier_timeout`).
 */
import { z } from 'zod';
import { sleep } from '../../resilience/index.js';
import type { Clock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { PrimitiveError, PrimitiveErrorCode } from './errors.js';
import { check, ms, name } from './validate.js';

export interface BarrierState {
  readonly name: string;
  readonly parties: number;
  readonly arrived: readonly string[];
  readonly open: boolean;
}

export class Barriers {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly retryMs = 50,
  ) {}

  /** Creates a barrier (idempotent with the same `parties`; `barrier_conflict` with another). */
  async create(barrier: string, parties: number): Promise<void> {
    check(name, barrier, 'barrier name');
    check(z.number().int().min(1).max(100_000), parties, 'parties');
    const existing = await this.store.write(async (tx) => {
      await tx.execute(
        'INSERT INTO garrison_barriers (name, parties, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
        [barrier, parties, this.clock.now()],
      );
      return tx.query<{ parties: number | string }>('SELECT parties FROM garrison_barriers WHERE name = $1', [
        barrier,
      ]);
    });
    const have = Number(existing[0]?.parties);
    if (have !== parties)
      throw new PrimitiveError(
        PrimitiveErrorCode.barrierConflict,
        `barrier ${barrier} exists for ${have} parties`,
        {
          barrier,
          parties: have,
        },
      );
  }

  /** Records an arrival (a second arrival of the same participant changes nothing); answers the state. */
  async arrive(barrier: string, participant: string): Promise<BarrierState> {
    check(name, participant, 'participant');
    await this.store.write(async (tx) => {
      const found = await tx.query('SELECT 1 AS ok FROM garrison_barriers WHERE name = $1', [barrier]);
      if (found.length === 0) throw this.notFound(barrier);
      await tx.execute(
        'INSERT INTO garrison_barrier_arrivals (name, participant, arrived_at) VALUES ($1, $2, $3) ' +
          'ON CONFLICT (name, participant) DO NOTHING',
        [barrier, participant, this.clock.now()],
      );
    });
    return this.state(barrier);
  }

  async state(barrier: string): Promise<BarrierState> {
    const rows = await this.store.query<{ parties: number | string }>(
      'SELECT parties FROM garrison_barriers WHERE name = $1',
      [barrier],
    );
    if (rows[0] === undefined) throw this.notFound(barrier);
    const parties = Number(rows[0].parties);
    const arrivals = await this.store.query<{ participant: string }>(
      'SELECT participant FROM garrison_barrier_arrivals WHERE name = $1 ORDER BY arrived_at, participant',
      [barrier],
    );
    const arrived = arrivals.map((a) => a.participant);
    return { name: barrier, parties, arrived, open: arrived.length >= parties };
  }

  /** Resolves once every party has arrived; `barrier_timeout` after `timeoutMs` of the clock. */
  async wait(barrier: string, options: { timeoutMs: number }): Promise<BarrierState> {
    const timeoutMs = check(ms, options.timeoutMs, 'timeoutMs');
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const s = await this.state(barrier);
      if (s.open) return s;
      const left = deadline - this.clock.now();
      if (left <= 0)
        throw new PrimitiveError(
          PrimitiveErrorCode.barrierTimeout,
          `barrier ${barrier}: ${s.arrived.length} of ${s.parties} arrived`,
          { barrier, arrived: s.arrived, parties: s.parties },
          true,
        );
      await sleep(this.clock, Math.min(this.retryMs, left));
    }
  }

  private notFound(barrier: string): PrimitiveError {
    return new PrimitiveError(PrimitiveErrorCode.barrierNotFound, `no barrier is named ${barrier}`, {
      barrier,
    });
  }
}
