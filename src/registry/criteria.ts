/**
 * The query language's front half: checks each criterion and resolves its path to what it addresses (a
 * column, the capability list, a resource, a place in the metadata), so the SQL compiler only sees
 * criteria that mean something. Every rejection is an `InvalidCriteriaError` naming the criterion.
 */
import { ValidationError } from '../errors.js';
import { InvalidCriteriaError } from './errors.js';
import { Health, QueryOp, type Criterion, type QueryScalar } from './types.js';
import { PATH_SEGMENT, storableText } from './validation.js';

/** A top-level field stored in its own column. */
export interface ColumnField {
  readonly kind: 'column';
  readonly column: string;
  readonly type: 'string' | 'number';
  readonly nullable: boolean;
  /** The only values the column can hold, when it is an enumeration. */
  readonly allowed?: readonly string[];
}

export type Field =
  | ColumnField
  | { readonly kind: 'capabilities' }
  | { readonly kind: 'resource'; readonly name: string }
  | { readonly kind: 'metadata'; readonly segments: readonly string[] };

/** A checked criterion: `values` holds one value, or the list for `in` / `not_in`. */
export interface Condition {
  readonly field: Field;
  readonly op: QueryOp;
  readonly values: readonly QueryScalar[];
}

/** The top-level fields a path may name, and the column behind each (a Map: paths are user input). */
const COLUMNS: ReadonlyMap<string, ColumnField> = new Map(
  Object.entries({
    id: { kind: 'column', column: 'id', type: 'string', nullable: false },
    type: { kind: 'column', column: 'type', type: 'string', nullable: true },
    health: {
      kind: 'column',
      column: 'health',
      type: 'string',
      nullable: false,
      allowed: Object.values(Health),
    },
    node: { kind: 'column', column: 'node', type: 'string', nullable: false },
    process: { kind: 'column', column: 'process', type: 'string', nullable: true },
    version: { kind: 'column', column: 'version', type: 'number', nullable: false },
    registeredAt: { kind: 'column', column: 'registered_at', type: 'number', nullable: false },
    updatedAt: { kind: 'column', column: 'updated_at', type: 'number', nullable: false },
  } satisfies Record<string, ColumnField>),
);

/** The paths a criterion may use, for error messages. */
export const QUERY_PATHS = [...COLUMNS.keys(), 'capabilities', 'resources.<name>', 'metadata.<key>[.<key>…]'];

const OPS: readonly string[] = Object.values(QueryOp);
const ORDERING: readonly QueryOp[] = ['gt', 'lt', 'gte', 'lte'];
const LIST_OPS: readonly QueryOp[] = ['in', 'not_in'];

/** `in` / `not_in` lists longer than this are refused. */
export const MAX_IN_VALUES = 1000;
/** A query with more criteria than this is refused. */
export const MAX_CRITERIA = 50;
/**
 * A query whose criteria hold more values than this in all (an `in` list counts each item) is refused:
 * the bound on the work and memory one query may cost, whatever the engine.
 */
export const MAX_QUERY_VALUES = 1000;

class Rejected extends Error {}

function reject(reason: string): never {
  throw new Rejected(reason);
}

function resolvePath(path: string): Field {
  const segments = path.split('.');
  const [head, ...rest] = segments;
  if (head === 'resources') {
    const name = rest[0];
    if (rest.length !== 1 || name === undefined || !PATH_SEGMENT.test(name)) {
      reject('a resource path is resources.<name>, the name matching [A-Za-z_][A-Za-z0-9_-]*');
    }
    return { kind: 'resource', name };
  }
  if (head === 'metadata') {
    if (rest.length === 0) reject('metadata.<key> needs at least one key after "metadata"');
    const bad = rest.find((s) => !PATH_SEGMENT.test(s));
    if (bad !== undefined) {
      reject(`the metadata key ${JSON.stringify(bad)} does not match [A-Za-z_][A-Za-z0-9_-]*`);
    }
    return { kind: 'metadata', segments: rest };
  }
  if (head === 'capabilities' && rest.length === 0) return { kind: 'capabilities' };
  const column = head === undefined ? undefined : COLUMNS.get(head);
  if (column !== undefined && rest.length === 0) return column;
  return reject(`unknown path; use one of ${QUERY_PATHS.join(', ')}`);
}

function isScalar(v: unknown): v is QueryScalar {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function describe(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Checks one value against what the field can hold, for the operator. */
function checkValue(field: Field, op: QueryOp, value: QueryScalar): void {
  if (typeof value === 'string' && !storableText(value)) {
    reject('a string value must not contain NUL or unpaired surrogate characters');
  }
  const ordering = ORDERING.includes(op);
  if (ordering && (value === null || typeof value === 'boolean')) {
    reject(`${op} compares numbers or strings, not ${describe(value)}`);
  }
  switch (field.kind) {
    case 'capabilities':
      if (ordering) reject(`capabilities is a list of names; use eq, neq, in or not_in`);
      if (typeof value !== 'string') reject(`capabilities holds strings; ${describe(value)} is not one`);
      return;
    case 'resource':
      if (typeof value !== 'number' && value !== null) {
        reject(`resources hold numbers; ${describe(value)} is not one (null means "absent")`);
      }
      return;
    case 'metadata':
      return;
    case 'column':
      if (value === null) {
        if (!field.nullable) reject(`${field.column} is never null`);
        return;
      }
      if (typeof value !== field.type)
        reject(`${field.column} holds ${field.type}s; ${describe(value)} is not one`);
      if (field.allowed !== undefined && !ordering && !field.allowed.includes(value as string)) {
        reject(`${describe(value)} is not a ${field.column} value; use one of ${field.allowed.join(', ')}`);
      }
  }
}

function checkCriterion(raw: unknown): Condition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    reject('a criterion is an object { path, op, value }');
  }
  const c = raw as Record<string, unknown>;
  const extra = Object.keys(c).filter((k) => k !== 'path' && k !== 'op' && k !== 'value');
  if (extra.length > 0)
    reject(`unknown key ${extra.map(describe).join(', ')}; a criterion is { path, op, value }`);
  if (typeof c.path !== 'string' || c.path === '') reject('path must be a non-empty string');
  if (typeof c.op !== 'string' || !OPS.includes(c.op)) reject(`op must be one of ${OPS.join(', ')}`);
  if (!('value' in c) || c.value === undefined) reject('value is missing');
  const field = resolvePath(c.path);
  const op = c.op as QueryOp;
  let values: QueryScalar[];
  if (LIST_OPS.includes(op)) {
    if (!Array.isArray(c.value)) reject(`${op} takes a list of values`);
    if (c.value.length > MAX_IN_VALUES) reject(`${op} takes at most ${MAX_IN_VALUES} values`);
    values = c.value.map((v: unknown) => {
      if (!isScalar(v)) reject(`${describe(v)} is not a string, finite number, boolean or null`);
      return v;
    });
  } else {
    if (!isScalar(c.value))
      reject(`${op} takes one string, finite number, boolean or null; got ${describe(c.value)}`);
    values = [c.value];
  }
  for (const v of values) checkValue(field, op, v);
  return { field, op, values };
}

/** Checks a list of criteria; throws `InvalidCriteriaError` naming the first bad one. */
export function parseCriteria(criteria: unknown): Condition[] {
  if (!Array.isArray(criteria)) {
    throw new InvalidCriteriaError(-1, criteria, 'criteria must be a list of { path, op, value }');
  }
  if (criteria.length > MAX_CRITERIA) {
    throw new InvalidCriteriaError(
      -1,
      undefined,
      `a query takes at most ${MAX_CRITERIA} criteria; this one has ${criteria.length}`,
    );
  }
  let total = 0;
  return criteria.map((raw: unknown, index) => {
    let condition: Condition;
    try {
      condition = checkCriterion(raw);
    } catch (error) {
      if (error instanceof Rejected) throw new InvalidCriteriaError(index, raw, error.message);
      throw error;
    }
    total += condition.values.length;
    if (total > MAX_QUERY_VALUES) {
      throw new InvalidCriteriaError(
        index,
        raw,
        `a query takes at most ${MAX_QUERY_VALUES} values in all its criteria (each item of an in / not_in ` +
          `list counts); the criteria up to this one hold ${total}`,
      );
    }
    return condition;
  });
}

/** Filter keys and the path each stands for (a Map: the keys are user input). */
const FILTER_FIELDS: ReadonlyMap<string, string> = new Map([
  ['capability', 'capabilities'],
  ['health', 'health'],
  ['node', 'node'],
  ['type', 'type'],
  ['process', 'process'],
]);

/** The criteria a simple list filter (`{ capability, health, node, type, process }`) stands for. */
export function filterCriteria(filter: object): Criterion[] {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw new ValidationError('invalid filter: must be an object such as { capability, health, node }');
  }
  const criteria: Criterion[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    const path = FILTER_FIELDS.get(key);
    if (path === undefined) {
      throw new ValidationError(
        `invalid filter: unknown field ${describe(key)}; use ${[...FILTER_FIELDS.keys()].join(', ')} ` +
          '(or query() for anything else)',
      );
    }
    criteria.push({ path, op: 'eq', value: value as QueryScalar });
  }
  return criteria;
}
