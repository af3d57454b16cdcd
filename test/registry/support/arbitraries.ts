/**
 * fast-check generators for agents and criteria. Values come from small pools shared by both sides so
 * that criteria actually hit agents, mixed with arbitrary doubles and strings for the edges (integers
 * past 2^53, denormals, -0, astral characters, escapes).
 */
import fc from 'fast-check';
import type { AgentInput, Criterion, JsonValue, QueryOp, QueryScalar } from '../../../src/registry/index.js';
import { START } from './fixtures.js';

const STRINGS = [
  'a',
  'A',
  'b',
  '',
  'é',
  '10',
  '1',
  '😀',
  '\uffff',
  'a"b',
  'x\\y',
  'line\nbreak',
  'true',
  'null',
];
const NUMBERS = [
  0,
  1,
  -1,
  0.5,
  2,
  10,
  1e20,
  1e21,
  0.1,
  0.30000000000000004,
  501615384571479200,
  2 ** 53 + 2,
  -1e-300,
  5e-324,
];
const CAPABILITIES = ['c1', 'c2', 'gpu', 'é', 'Z'];
const NODES = ['n1', 'n2', 'N', 'ñ'];
const RESOURCE_NAMES = ['load', 'mem', 'cpu'];
const KEYS = ['a', 'b', 'tags', 'zone', 'x-y', '_u'];
const HEALTH = ['healthy', 'degraded', 'unhealthy'] as const;

/** Short ids over characters whose code-point order differs from locale order and from UTF-16 order. */
const idText = (minLength: number) =>
  fc
    .array(fc.constantFrom('a', 'B', 'é', '😀', '\uffff', '_', '-'), { minLength, maxLength: 3 })
    .map((cs) => cs.join(''));

const text = fc.oneof(fc.constantFrom(...STRINGS), fc.string({ unit: 'grapheme', maxLength: 3 }));
const number = fc.oneof(
  { arbitrary: fc.constantFrom(...NUMBERS), weight: 3 },
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const scalar: fc.Arbitrary<QueryScalar> = fc.oneof(text, number, fc.boolean(), fc.constant(null));

const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(fc.oneof(scalar, tie('value')), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Agents with distinct ids; ids are short strings over letters that sort differently by locale. */
export const agents: fc.Arbitrary<AgentInput[]> = fc.uniqueArray(idText(1), { maxLength: 8 }).chain((ids) =>
  fc.tuple(
    ...ids.map((id) =>
      fc.record({
        id: fc.constant(id),
        capabilities: fc.uniqueArray(fc.constantFrom(...CAPABILITIES), { minLength: 1, maxLength: 3 }),
        health: fc.constantFrom(...HEALTH),
        node: fc.constantFrom(...NODES),
        resources: fc.dictionary(fc.constantFrom(...RESOURCE_NAMES), number, { maxKeys: 3 }),
        type: fc.constantFrom(null, 'worker', 'planner'),
        process: fc.constantFrom(null, 'p1', 'p2'),
        metadata: fc.dictionary(fc.constantFrom(...KEYS), json, { maxKeys: 4 }),
      }),
    ),
  ),
);

const ORDERING: QueryOp[] = ['gt', 'lt', 'gte', 'lte'];
const MEMBERSHIP: QueryOp[] = ['eq', 'neq', 'in', 'not_in'];

/** A criterion whose value has the shape its operator takes. */
function withValue(
  path: string,
  ops: QueryOp[],
  value: fc.Arbitrary<QueryScalar>,
  ordered?: fc.Arbitrary<QueryScalar>,
) {
  return fc.constantFrom(...ops).chain((op): fc.Arbitrary<Criterion> => {
    if (op === 'in' || op === 'not_in') {
      return fc.array(value, { maxLength: 3 }).map((list) => ({ path, op, value: list }));
    }
    const v = ORDERING.includes(op) ? (ordered ?? value) : value;
    return v.map((one) => ({ path, op, value: one }));
  });
}

const stringColumn = (path: string, pool: fc.Arbitrary<string>, nullable: boolean) =>
  withValue(path, [...MEMBERSHIP, ...ORDERING], nullable ? fc.option(pool, { nil: null }) : pool, pool);

const timestamps = fc.oneof(fc.constantFrom(START - 1, START, START + 1), number);

export const criterion: fc.Arbitrary<Criterion> = fc.oneof(
  stringColumn('id', fc.oneof(idText(0), text), false),
  stringColumn('node', fc.oneof(fc.constantFrom(...NODES), text), false),
  stringColumn('type', fc.constantFrom('worker', 'planner', 'w'), true),
  stringColumn('process', fc.constantFrom('p1', 'p2', 'p3'), true),
  withValue('health', MEMBERSHIP, fc.constantFrom(...HEALTH)),
  withValue('health', ORDERING, text),
  withValue('capabilities', MEMBERSHIP, fc.constantFrom(...CAPABILITIES, 'none')),
  withValue('version', [...MEMBERSHIP, ...ORDERING], fc.constantFrom(0, 1, 1.5, 2)),
  withValue('registeredAt', [...MEMBERSHIP, ...ORDERING], timestamps),
  withValue('updatedAt', [...MEMBERSHIP, ...ORDERING], timestamps),
  fc
    .constantFrom(...RESOURCE_NAMES, 'gpu')
    .chain((name) =>
      withValue(`resources.${name}`, [...MEMBERSHIP, ...ORDERING], fc.option(number, { nil: null }), number),
    ),
  fc
    .array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 })
    .chain((keys) =>
      withValue(`metadata.${keys.join('.')}`, [...MEMBERSHIP, ...ORDERING], scalar, fc.oneof(text, number)),
    ),
);

/** Every path in a metadata object with the values found there (scalars, and array elements). */
function metadataLeaves(value: JsonValue, path: string[], out: Array<[string, QueryScalar]>): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item === null || typeof item !== 'object') out.push([path.join('.'), item]);
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) metadataLeaves(item, [...path, key], out);
    return;
  }
  out.push([path.join('.'), value]);
}

/** Paths and values the given agents actually hold, so criteria built from them hit something. */
function heldValues(inputs: readonly AgentInput[]): Array<[string, QueryScalar]> {
  const out: Array<[string, QueryScalar]> = [];
  for (const a of inputs) {
    for (const [name, value] of Object.entries(a.resources)) out.push([`resources.${name}`, value]);
    metadataLeaves(a.metadata ?? {}, ['metadata'], out);
  }
  return out.filter(([path]) => path !== 'metadata');
}

/** A criterion on a path some agent holds, compared with the value it holds there (or a neighbour). */
function heldCriterion(held: Array<[string, QueryScalar]>): fc.Arbitrary<Criterion> {
  return fc.constantFrom(...held).chain(([path, value]) => {
    // Resources hold only numbers (or are absent); metadata may hold anything, so try the other type too.
    const resource = path.startsWith('resources.');
    const neighbour: fc.Arbitrary<QueryScalar> =
      typeof value === 'number'
        ? fc.constantFrom(
            ...[value, value + 1, value - 1, value * 2, -value].filter(Number.isFinite),
            resource ? null : String(value),
          )
        : fc.constantFrom(value, typeof value === 'string' ? `${value}a` : 'a', null);
    const ordered =
      typeof value === 'number' || typeof value === 'string' ? fc.constant(value) : fc.oneof(text, number);
    return withValue(path, [...MEMBERSHIP, ...ORDERING], neighbour, ordered);
  });
}

/** Lists of criteria for the given agents: random ones, and ones built from what the agents hold. */
export function criteriaFor(inputs: readonly AgentInput[]): fc.Arbitrary<Criterion[]> {
  const held = heldValues(inputs);
  const one = held.length === 0 ? criterion : fc.oneof(criterion, heldCriterion(held));
  return fc.array(one, { maxLength: 3 });
}

/** Agents, and several lists of criteria to query them with. */
export const agentsAndQueries: fc.Arbitrary<[AgentInput[], Criterion[][]]> = agents.chain((inputs) =>
  fc.tuple(fc.constant(inputs), fc.array(criteriaFor(inputs), { minLength: 1, maxLength: 6 })),
);
