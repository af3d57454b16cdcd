/**
 * Reading the coordination state page by page, for operators (API, CLI, dashboard): live locks, current
 * leaders and pools with their items and waiters. Plain reads of the store — no node needs to run —
 * paged by name with an opaque cursor, like every other listing.
 */
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import {
  decodePageCursor,
  encodePageCursor,
  PAGE_DEFAULT_LIMIT,
  pageLimitSchema,
  type Store,
} from '../../store/index.js';
import { toInfo, type LeaderInfo } from './leaders.js';
import { listLiveLeases, type LeaseState } from './leases.js';
import { readPool, type PoolStatus } from './pools.js';
import { parse } from './validate.js';

export interface CoordinationPageOptions {
  /** Most rows, 1 to 1000. Default 100. */
  readonly limit?: number;
  /** The `nextCursor` of the page before. */
  readonly cursor?: string;
}

export interface CoordinationPage {
  /** Pass it as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

const pageSchema = z.strictObject({
  limit: pageLimitSchema.optional(),
  cursor: z.string().min(1).max(4096).optional(),
});

function afterOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const key = decodePageCursor(cursor, ['string']);
  if (key === undefined) throw new ValidationError('invalid cursor: not a cursor of this listing');
  return key[0] as string;
}

/** Reads one more row than the page to know whether another page follows. */
async function paged<T>(
  options: CoordinationPageOptions,
  read: (after: string | undefined, limit: number) => Promise<T[]>,
  nameOf: (row: T) => string,
): Promise<{ rows: T[]; nextCursor: string | null }> {
  const o = parse(pageSchema, options, 'page options');
  const limit = o.limit ?? PAGE_DEFAULT_LIMIT;
  const rows = await read(afterOf(o.cursor), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page,
    nextCursor: rows.length > limit && last !== undefined ? encodePageCursor([nameOf(last)]) : null,
  };
}

/** Locks held now (live leases), by name. */
export async function listLocks(
  store: Store,
  now: number,
  options: CoordinationPageOptions = {},
): Promise<CoordinationPage & { readonly locks: LeaseState[] }> {
  const { rows, nextCursor } = await paged(
    options,
    (after, limit) => listLiveLeases(store, 'lock', now, after, limit),
    (l) => l.name,
  );
  return { locks: rows, nextCursor };
}

/** Groups with a leader now, by group. */
export async function listLeaders(
  store: Store,
  now: number,
  options: CoordinationPageOptions = {},
): Promise<CoordinationPage & { readonly leaders: LeaderInfo[] }> {
  const { rows, nextCursor } = await paged(
    options,
    (after, limit) => listLiveLeases(store, 'leader', now, after, limit),
    (l) => l.name,
  );
  return { leaders: rows.map(toInfo), nextCursor };
}

/** Pools by name, each with its items (holders) and its wait queue. */
export async function listPools(
  store: Store,
  now: number,
  options: CoordinationPageOptions = {},
): Promise<CoordinationPage & { readonly pools: PoolStatus[] }> {
  const { rows, nextCursor } = await paged(
    options,
    async (after, limit) => {
      const names = await store.query<{ name: string }>(
        'SELECT name FROM garrison_coord_pools WHERE name > $1 ORDER BY name LIMIT $2',
        [after ?? '', limit],
      );
      const pools: PoolStatus[] = [];
      for (const { name } of names) {
        const pool = await readPool(store, name, now);
        if (pool !== undefined) pools.push(pool);
      }
      return pools;
    },
    (p) => p.name,
  );
  return { pools: rows, nextCursor };
}
