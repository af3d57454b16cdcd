/**
 * The query language, written as plainly as possible over agents in memory: the reference the SQL
 * compiler is checked against. It knows nothing of SQL, of indexes or of how agents are stored.
 */
import type { Agent, Criterion, QueryScalar } from '../../../src/registry/index.js';

const TOP_LEVEL = [
  'id',
  'type',
  'health',
  'node',
  'process',
  'capabilities',
  'version',
  'registeredAt',
  'updatedAt',
];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at a dotted path; undefined when any step is missing or is not an object. */
export function valueAt(agent: Agent, path: string): unknown {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return undefined;
  if (rest.length === 0)
    return TOP_LEVEL.includes(head) ? (agent as unknown as Record<string, unknown>)[head] : undefined;
  let current: unknown =
    head === 'resources' ? agent.resources : head === 'metadata' ? agent.metadata : undefined;
  for (const key of rest) {
    if (!isPlainObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** Compares two strings by Unicode code point (not by UTF-16 unit, not by locale). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function eq(x: unknown, v: QueryScalar): boolean {
  if (v === null) return x === undefined || x === null;
  if (Array.isArray(x)) return x.some((item) => item === v);
  return x === v;
}

function compare(x: unknown, op: 'gt' | 'lt' | 'gte' | 'lte', v: QueryScalar): boolean {
  let d: number;
  if (typeof x === 'number' && typeof v === 'number') d = x < v ? -1 : x > v ? 1 : 0;
  else if (typeof x === 'string' && typeof v === 'string') d = compareCodePoints(x, v);
  else return false;
  return op === 'gt' ? d > 0 : op === 'lt' ? d < 0 : op === 'gte' ? d >= 0 : d <= 0;
}

export function matches(agent: Agent, c: Criterion): boolean {
  const x = valueAt(agent, c.path);
  const values = Array.isArray(c.value) ? (c.value as QueryScalar[]) : [c.value as QueryScalar];
  switch (c.op) {
    case 'eq':
      return eq(x, values[0] ?? null);
    case 'neq':
      return !eq(x, values[0] ?? null);
    case 'in':
      return values.some((v) => eq(x, v));
    case 'not_in':
      return !values.some((v) => eq(x, v));
    default:
      return compare(x, c.op, values[0] ?? null);
  }
}

/** The ids of the agents matching every criterion, in code-point order. */
export function referenceQuery(agents: readonly Agent[], criteria: readonly Criterion[]): string[] {
  return agents
    .filter((a) => criteria.every((c) => matches(a, c)))
    .map((a) => a.id)
    .sort(compareCodePoints);
}
