/**
 * `/v1/coordination`: what the coordination primitives hold now — live locks, current leaders, and pools
 * with their items, holders and waiters. Read-only views of the store, paged by name.
 */
import { z } from 'zod';
import { listLeaders, listLocks, listPools } from '../../coordination/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { limit } from './schemas.js';

/** The `nextCursor` of the page before (opaque). */
const cursor = z.string().min(1).max(4096).optional();
const pageQuery = z.strictObject({ limit, cursor });
const PAGED = 'pages of limit (default 100, at most 1000), go on with cursor=nextCursor';

function page(q: z.output<typeof pageQuery>) {
  return {
    ...(q.limit === undefined ? {} : { limit: q.limit }),
    ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
  };
}

export function coordinationRoutes({ store, clock }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      path: '/v1/coordination/locks',
      summary: `Locks held now (holder, fencing number, acquired and expiry times), by name; ${PAGED}`,
      query: pageQuery,
      handle: async ({ query }) => ({ json: await listLocks(store, clock.now(), page(query)) }),
    }),
    route({
      method: 'GET',
      path: '/v1/coordination/leaders',
      summary: `Groups with a leader now (leader, term, since, expiry), by group; ${PAGED}`,
      query: pageQuery,
      handle: async ({ query }) => ({ json: await listLeaders(store, clock.now(), page(query)) }),
    }),
    route({
      method: 'GET',
      path: '/v1/coordination/pools',
      summary: `Resource pools with their items (holder, fence, expiry) and their wait queue in order, by name; ${PAGED}`,
      query: pageQuery,
      handle: async ({ query }) => ({ json: await listPools(store, clock.now(), page(query)) }),
    }),
  ];
}
