/**
 * `/v1/coordination`: what the coordination primitives hold now — live locks, current leaders, and pools
 * with their items, holders and waiters (read-only views of the store, paged by name) — and the
 * capability-wide rounds: a vote or a barrier among the healthy agents with a capability, started,
 * answered and read here (docs/coordination.md, "Capability-wide consensus and barriers").
 */
import { z } from 'zod';
import {
  createCoordinationPrimitives,
  listLeaders,
  listLocks,
  listPools,
  type CapabilityCoordination,
} from '../../coordination/index.js';
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

const name = z.string().min(1).max(200);
const proposeBody = z.strictObject({
  capability: name,
  topic: name,
  options: z.array(name).min(1).max(100),
  timeoutMs: z.number().int().min(1).max(2_147_483_647),
  quorum: z.number().int().min(1).optional(),
  id: name.optional(),
});
const voteBody = z.strictObject({ voter: name, choice: name });
const barrierBody = z.strictObject({ capability: name, name });
const arriveBody = z.strictObject({ participant: name });
const idParam = z.strictObject({ id: name });
const nameParam = z.strictObject({ name });

export function coordinationRoutes({ store, clock, registry }: ApiContext): Route[] {
  // Rounds are started, answered and read here; nothing waits, so no wake-up subscription is made.
  let rounds: CapabilityCoordination | undefined;
  const capability = (): CapabilityCoordination =>
    (rounds ??= createCoordinationPrimitives({ store, clock, nodeId: 'api', registry }).capability!);
  return [
    route({
      method: 'POST',
      path: '/v1/coordination/consensus',
      summary:
        'Start a vote among the healthy agents with a capability (its voters, fixed now; quorum default a majority of them); again with the same id returns the stored round',
      okStatus: 201,
      also: {
        409: 'No healthy agent has the capability (no_participants), or the id is taken by another topic',
      },
      body: proposeBody,
      handle: async ({ body }) => {
        const b = body;
        const { capability: cap, topic, ...options } = b;
        return { status: 201, json: { proposal: await capability().propose(cap, topic, options) } };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/coordination/consensus/:id/votes',
      summary: "A participant's vote; the proposal after it (absent participants counted)",
      also: {
        404: 'No capability-wide vote has this id',
        409: 'Not a participant, voted already, or the vote is closed',
      },
      params: idParam,
      body: voteBody,
      handle: async ({ params, body }) => {
        const { id } = params;
        const { voter, choice } = body;
        return { json: { proposal: await capability().vote(id, voter, choice) } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/coordination/consensus/:id',
      summary: 'A capability-wide vote now: votes, tally, status, decision, absent participants',
      also: { 404: 'No capability-wide vote has this id' },
      params: idParam,
      handle: async ({ params }) => ({
        json: { proposal: await capability().result(params.id) },
      }),
    }),
    route({
      method: 'POST',
      path: '/v1/coordination/barriers',
      summary:
        'Create a barrier for the healthy agents with a capability (its participants, fixed now); again with the same name returns the stored one',
      okStatus: 201,
      also: { 409: 'No healthy agent has the capability (no_participants)' },
      body: barrierBody,
      handle: async ({ body }) => {
        const b = body;
        return { status: 201, json: { barrier: await capability().barrier(b.capability, b.name) } };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/coordination/barriers/:name/arrivals',
      summary: "A participant's arrival; the barrier after it (absent participants counted as arrived)",
      also: { 404: 'No capability-wide barrier has this name', 409: 'Not a participant' },
      params: nameParam,
      body: arriveBody,
      handle: async ({ params, body }) => {
        const { name: n } = params;
        const { participant } = body;
        return { json: { barrier: await capability().arrive(n, participant) } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/coordination/barriers/:name',
      summary: 'A capability-wide barrier now: participants, arrivals, absent participants, released',
      also: { 404: 'No capability-wide barrier has this name' },
      params: nameParam,
      handle: async ({ params }) => ({
        json: { barrier: await capability().barrierStatus(params.name) },
      }),
    }),
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
