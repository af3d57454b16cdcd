/**
 * `/v1/ai`: what durable agent loops spent — tokens by run, agent or model, from the usage ledger. The
 * ledger is governance's (the API never loads the AI SDK); approvals need no route of their own: they
 * are signals (`POST /v1/workflows/:id/signal`).
 */
import { z } from 'zod';
import { listModelUsage, USAGE_GROUPS } from '../../governance/index.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import { limit } from './schemas.js';

const text = z.string().min(1).max(400).optional();
const usageQuery = z.strictObject({
  by: z.enum(USAGE_GROUPS).optional(),
  runId: text,
  agent: text,
  model: text,
  since: z.coerce.number().int().min(0).optional(),
  limit,
});

export function aiRoutes({ store }: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      path: '/v1/ai/usage',
      summary:
        'Tokens spent by agent loops, grouped by run, agent or model (by, default agent), most first; filters runId, agent, model, since (UNIX epoch ms); at most limit groups (default 100)',
      query: usageQuery,
      handle: async ({ query }) => {
        const by = query.by ?? 'agent';
        const usage = await listModelUsage(store, {
          by,
          ...(query.runId === undefined ? {} : { runId: query.runId }),
          ...(query.agent === undefined ? {} : { agent: query.agent }),
          ...(query.model === undefined ? {} : { model: query.model }),
          ...(query.since === undefined ? {} : { since: query.since }),
          ...(query.limit === undefined ? {} : { limit: query.limit }),
        });
        return { json: { by, usage } };
      },
    }),
  ];
}
