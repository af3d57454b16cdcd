/**
 * Discovery: the questions a coordinator asks the registry. Each is one SQL statement over the indexes;
 * a failure of the store is thrown, never turned into an empty answer.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';
import type { Executor } from '../store/index.js';
import { selectAgents } from './agent-reads.js';
import { parseCriteria } from './criteria.js';
import { compileConditions, Params } from './query-sql.js';
import { AGENT_COLUMNS, AGENTS, CAPABILITIES, RESOURCES, rowToAgent, type AgentRow } from './rows.js';
import {
  Health,
  type Agent,
  type Criterion,
  type HealthSummary,
  type LeastLoadedOptions,
  type ResourceSummary,
} from './types.js';
import { PATH_SEGMENT } from './validation.js';

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`invalid ${what}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

const capability = z.string().min(1, 'must not be empty');
const capabilityList = z.array(capability).min(1, 'must list at least one capability');
const resourceName = z.string().regex(PATH_SEGMENT, 'a resource name must match [A-Za-z_][A-Za-z0-9_-]*');
const minimums = z.record(resourceName, z.number('must be a finite number'));
const leastLoadedOptions = z.strictObject({
  limit: z.int().min(1, 'must be at least 1').max(10_000, 'must be at most 10000').optional(),
  health: z.array(z.enum(Health)).min(1, 'must list at least one health value').optional(),
  resource: resourceName.optional(),
});

/** Agents with the capability whose health is `healthy`. */
export async function capableHealthy(exec: Executor, cap: string): Promise<Agent[]> {
  const c = check(capability, cap, 'capability');
  return selectAgents(
    exec,
    parseCriteria([
      { path: 'capabilities', op: 'eq', value: c },
      { path: 'health', op: 'eq', value: 'healthy' },
    ]),
  );
}

/** Agents reporting at least each given amount, e.g. `{ memory_available: 512, cpu_available: 2 }`. */
export async function withResources(exec: Executor, min: Readonly<Record<string, number>>): Promise<Agent[]> {
  const m = check(minimums, min, 'resource minimums');
  const criteria: Criterion[] = Object.entries(m).map(([name, value]) => ({
    path: `resources.${name}`,
    op: 'gte',
    value,
  }));
  return selectAgents(exec, parseCriteria(criteria));
}

/** Agents having every one of the capabilities. */
export async function withCapabilities(exec: Executor, caps: readonly string[]): Promise<Agent[]> {
  const list = check(capabilityList, caps, 'capabilities');
  return selectAgents(exec, parseCriteria(list.map((value) => ({ path: 'capabilities', op: 'eq', value }))));
}

/**
 * The least-loaded agents with the capability: ordered by the load resource ascending (agents that do not
 * report it come last), then by id; only agents whose health is allowed (default: healthy).
 */
export async function leastLoaded(
  exec: Executor,
  cap: string,
  options: LeastLoadedOptions = {},
): Promise<Agent[]> {
  const c = check(capability, cap, 'capability');
  const o = check(leastLoadedOptions, options, 'leastLoaded options');
  const params = new Params();
  const where = compileConditions(
    exec.dialect,
    parseCriteria([
      { path: 'capabilities', op: 'eq', value: c },
      { path: 'health', op: 'in', value: o.health ?? ['healthy'] },
    ]),
    params,
  );
  const resource = params.add(o.resource ?? 'load');
  const limit = params.add(o.limit ?? 1);
  const rows = await exec.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a ` +
      `LEFT JOIN ${RESOURCES} l ON l.agent_id = a.id AND l.name = ${resource} ` +
      `WHERE ${where} ORDER BY CASE WHEN l.value IS NULL THEN 1 ELSE 0 END, l.value, a.id LIMIT ${limit}`,
    params.values,
  );
  return rows.map(rowToAgent);
}

/** How many agents have each capability. */
export async function countByCapability(exec: Executor): Promise<Record<string, number>> {
  const rows = await exec.query<{ capability: string; n: number | string }>(
    `SELECT capability, COUNT(*) AS n FROM ${CAPABILITIES} GROUP BY capability ORDER BY capability`,
  );
  return Object.fromEntries(rows.map((r) => [r.capability, Number(r.n)]));
}

/** How many agents there are per health value. */
export async function healthSummary(exec: Executor): Promise<HealthSummary> {
  const rows = await exec.query<{ health: string; n: number | string }>(
    `SELECT health, COUNT(*) AS n FROM ${AGENTS} GROUP BY health`,
  );
  const by = new Map(rows.map((r) => [r.health, Number(r.n)]));
  const healthy = by.get('healthy') ?? 0;
  const degraded = by.get('degraded') ?? 0;
  const unhealthy = by.get('unhealthy') ?? 0;
  return { total: healthy + degraded + unhealthy, healthy, degraded, unhealthy };
}

/** Per resource name: how many agents report it, and the total, least, greatest and mean value. */
export async function resourceSummary(exec: Executor): Promise<Record<string, ResourceSummary>> {
  const rows = await exec.query<{ name: string; n: number | string; total: number; lo: number; hi: number }>(
    `SELECT name, COUNT(*) AS n, SUM(value) AS total, MIN(value) AS lo, MAX(value) AS hi FROM ${RESOURCES} ` +
      'GROUP BY name ORDER BY name',
  );
  return Object.fromEntries(
    rows.map((r) => {
      const agents = Number(r.n);
      const total = Number(r.total);
      return [r.name, { agents, total, min: Number(r.lo), max: Number(r.hi), average: total / agents }];
    }),
  );
}
