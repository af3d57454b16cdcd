/**
 * The demo as an application: what `garrison demo` runs, loaded through the same `--app` path as a
 * user's module (`garrison worker --app <this file>` runs it on a node too). Its agents write to the
 * store's effect ledger, so it is a factory given the store.
 */
import { defineApp } from '../../app/index.js';
import { createStoreRateLimiter } from '../../resilience/index.js';
import { demoAgents, FlakyGateway, GATEWAY_LIMIT } from './agents.js';
import { ensureLedger } from './ledger.js';
import { orderWorkflow } from './workflows.js';

/** Simulated work per agent action: enough for the progress to be watched, and for a crash to land mid-run. */
export const DEMO_STEP_MS = 15;
/** Agents of each of the three capabilities a node of the demo starts (`--agents` overrides it). */
export const DEMO_AGENTS = 2;

export default defineApp(async ({ store, clock, breakers }) => {
  await ensureLedger(store);
  const limiter = createStoreRateLimiter(store, { ...GATEWAY_LIMIT, clock });
  const team = demoAgents({
    store,
    clock,
    breakers,
    gateway: new FlakyGateway(2),
    limiter,
    stepMs: DEMO_STEP_MS,
  });
  return {
    version: 'demo',
    workflows: [orderWorkflow],
    agents: [team.validator, team.processor, team.reporter].map((definition) => ({
      definition,
      count: DEMO_AGENTS,
    })),
  };
});
