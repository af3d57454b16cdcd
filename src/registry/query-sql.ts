/**
 * The query language's back half: checked criteria become one SQL WHERE clause, per dialect. Every
 * criterion runs in SQL; nothing is filtered afterwards in JavaScript.
 *
 * Semantics (the reference is docs/registry.md):
 * - `eq` on a list (capabilities, a metadata array) means membership; on a scalar, equality of value and
 *   type (the string "1" is not the number 1). `eq null` means "absent or null".
 * - Ordering operators match only a value of the same kind (number with number, string with string);
 *   strings compare by Unicode code point, numbers as IEEE doubles (as in JavaScript).
 * - `neq` is exactly `not eq`, `not_in` exactly `not in` — so they match agents where the path is absent.
 *
 * Lists (`in`, `not_in`) are bound as ONE parameter each (`bindList` in the store), so the SQL of a query
 * does not grow with its lists: the statement stays small and the engines' limits on parameters and
 * expression depth are never reached.
 *
 * Positive forms are written so the planner can use an index (a column comparison, or `a.id IN (SELECT …)`
 * over an index table). A positive form may yield NULL where it does not match; negations therefore wrap
 * it in COALESCE before NOT.
 */
import {
  inListSql,
  listOperand,
  listParam,
  type Dialect,
  type ListKind,
  type SqlValue,
} from '../store/index.js';
import type { ColumnField, Condition, Field } from './criteria.js';
import { CAPABILITIES, RESOURCES } from './rows.js';
import type { QueryOp, QueryScalar } from './types.js';

export interface SqlFragment {
  readonly sql: string;
  readonly params: SqlValue[];
}

const COMPARE: Record<'gt' | 'lt' | 'gte' | 'lte', string> = { gt: '>', lt: '<', gte: '>=', lte: '<=' };

/** Collects bound values and hands out their `$n` placeholders. */
export class Params {
  readonly values: SqlValue[] = [];
  add(value: SqlValue): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Distinct values, first occurrence kept. */
function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

const FALSE = '1 = 0';

class Compiler {
  constructor(
    private readonly dialect: Dialect,
    private readonly params: Params,
  ) {}

  private get pg(): boolean {
    return this.dialect === 'postgres';
  }

  /** A number placeholder; typed on PostgreSQL, where an untyped parameter next to BIGINT would be BIGINT. */
  private num(v: number): string {
    const p = this.params.add(v);
    return this.pg ? `${p}::double precision` : p;
  }

  private text(v: string): string {
    return this.params.add(v);
  }

  condition(c: Condition): string {
    switch (c.op) {
      case 'eq':
        return this.eq(c.field, c.values[0] ?? null);
      case 'neq':
        return this.not(this.eq(c.field, c.values[0] ?? null));
      case 'in':
        return this.in(c.field, c.values);
      case 'not_in':
        return this.not(this.in(c.field, c.values));
      default:
        return this.compare(c.field, c.op, c.values[0] ?? null);
    }
  }

  private not(positive: string): string {
    return `NOT COALESCE(${positive}, ${this.pg ? 'FALSE' : '0'})`;
  }

  private eq(field: Field, value: QueryScalar): string {
    switch (field.kind) {
      case 'column':
        return this.columnIn(field, [value]);
      case 'capabilities':
        return this.capabilitiesIn([value as string]);
      case 'resource':
        return this.resourceIn(field.name, [value as number | null]);
      case 'metadata':
        return this.pg
          ? this.pgMetadataEq(field.segments, value)
          : this.sqliteMetadataEq(field.segments, value);
    }
  }

  private in(field: Field, values: readonly QueryScalar[]): string {
    if (values.length === 0) return FALSE;
    switch (field.kind) {
      case 'column':
        return this.columnIn(field, values);
      case 'capabilities':
        return this.capabilitiesIn(values as string[]);
      case 'resource':
        return this.resourceIn(field.name, values as Array<number | null>);
      case 'metadata':
        return this.metadataIn(field.segments, values);
    }
  }

  /** The list as one bound parameter, as an operand (`ANY($n::text[])` / `(SELECT value FROM json_each($n))`). */
  private list(kind: ListKind, values: readonly unknown[]): string {
    const p = this.params.add(listParam(this.dialect, kind, values as never));
    return listOperand(this.dialect, kind, p);
  }

  /** `expr` is one of `values`, bound as one parameter. */
  private inList(expr: string, kind: ListKind, values: readonly unknown[]): string {
    const p = this.params.add(listParam(this.dialect, kind, values as never));
    return inListSql(this.dialect, expr, kind, p);
  }

  // Booleans and null are at most three values, each compiled as eq; strings and numbers go into one
  // bound list per kind.
  private metadataIn(segments: readonly string[], values: readonly QueryScalar[]): string {
    const field: Field = { kind: 'metadata', segments };
    const strings = distinct(values.filter((v): v is string => typeof v === 'string'));
    const numbers = distinct(values.filter((v): v is number => typeof v === 'number'));
    const parts = distinct(values.filter((v) => v === null || typeof v === 'boolean')).map((v) =>
      this.eq(field, v),
    );
    if (this.pg) {
      const docs = [...strings, ...numbers].flatMap((v) => [nest(segments, v), nest(segments, [v])]);
      if (docs.length > 0) parts.push(`a.metadata @> ${this.list('json', docs)}`);
    } else {
      const p = this.params.add(sqlitePath(segments));
      const type = `json_type(a.metadata, ${p})`;
      const member = (cond: string) =>
        `(${type} = 'array' AND EXISTS (SELECT 1 FROM json_each(a.metadata, ${p}) e WHERE ${cond}))`;
      if (strings.length > 0) {
        const list = this.list('text', strings);
        parts.push(
          `((${type} = 'text' AND json_extract(a.metadata, ${p}) IN ${list}) OR ` +
            `${member(`e.type = 'text' AND e.value IN ${list}`)})`,
        );
      }
      if (numbers.length > 0) {
        const list = this.list('real', numbers);
        parts.push(
          `((${type} IN ('integer', 'real') AND CAST(json_extract(a.metadata, ${p}) AS REAL) IN ${list}) OR ` +
            `${member(`e.type IN ('integer', 'real') AND CAST(e.value AS REAL) IN ${list}`)})`,
        );
      }
    }
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
  }

  private compare(field: Field, op: QueryOp, value: QueryScalar): string {
    const cmp = COMPARE[op as keyof typeof COMPARE];
    switch (field.kind) {
      case 'column': {
        const col = `a.${field.column}`;
        if (typeof value === 'number') return `${col} ${cmp} ${this.num(value)}`;
        return this.pg
          ? `${col} COLLATE "C" ${cmp} ${this.text(value as string)}`
          : `${col} ${cmp} ${this.text(value as string)}`;
      }
      case 'resource':
        return `a.id IN (SELECT r.agent_id FROM ${RESOURCES} r WHERE r.name = ${this.text(field.name)} AND r.value ${cmp} ${this.num(value as number)})`;
      case 'metadata':
        return this.pg
          ? this.pgMetadataCompare(field.segments, cmp, value)
          : this.sqliteMetadataCompare(field.segments, cmp, value);
      case 'capabilities':
        // Refused by the criteria check; kept total for the type checker.
        return FALSE;
    }
  }

  private columnIn(field: ColumnField, values: readonly QueryScalar[]): string {
    const col = `a.${field.column}`;
    const present = values.filter((v) => v !== null);
    const parts: string[] = [];
    if (present.length === 1) {
      const v = present[0] as string | number;
      parts.push(`${col} = ${typeof v === 'number' ? this.num(v) : this.text(v)}`);
    } else if (present.length > 1) {
      parts.push(this.inList(col, field.type === 'number' ? 'real' : 'text', distinct(present)));
    }
    if (present.length < values.length) parts.push(`${col} IS NULL`);
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
  }

  private capabilitiesIn(values: readonly string[]): string {
    const cond =
      values.length === 1
        ? `c.capability = ${this.text(values[0] as string)}`
        : this.inList('c.capability', 'text', distinct(values));
    return `a.id IN (SELECT c.agent_id FROM ${CAPABILITIES} c WHERE ${cond})`;
  }

  private resourceIn(name: string, values: ReadonlyArray<number | null>): string {
    const n = this.text(name);
    const numbers = values.filter((v): v is number => v !== null);
    const parts: string[] = [];
    if (numbers.length > 0) {
      const cond =
        numbers.length === 1
          ? `r.value = ${this.num(numbers[0] as number)}`
          : this.inList('r.value', 'real', distinct(numbers));
      parts.push(`a.id IN (SELECT r.agent_id FROM ${RESOURCES} r WHERE r.name = ${n} AND ${cond})`);
    }
    if (numbers.length < values.length) {
      parts.push(`a.id NOT IN (SELECT r.agent_id FROM ${RESOURCES} r WHERE r.name = ${n})`);
    }
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
  }

  // SQLite: json_type tells the JSON kind ('text', 'integer', 'real', 'true', 'false', 'null', 'array',
  // 'object'; NULL when the path is absent). Numbers are compared as REAL because json_extract returns a
  // JSON integer beyond 2^53 as an exact INTEGER, which JavaScript would have rounded to a double.
  private sqliteMetadataEq(segments: readonly string[], value: QueryScalar): string {
    const p = this.params.add(sqlitePath(segments));
    const type = `json_type(a.metadata, ${p})`;
    if (value === null) return `(${type} IS NULL OR ${type} = 'null')`;
    const member = (cond: string) =>
      `(${type} = 'array' AND EXISTS (SELECT 1 FROM json_each(a.metadata, ${p}) e WHERE ${cond}))`;
    if (typeof value === 'boolean') {
      const kind = value ? "'true'" : "'false'";
      return `(${type} = ${kind} OR ${member(`e.type = ${kind}`)})`;
    }
    if (typeof value === 'number') {
      const v = this.num(value);
      return (
        `((${type} IN ('integer', 'real') AND CAST(json_extract(a.metadata, ${p}) AS REAL) = ${v}) OR ` +
        `${member(`e.type IN ('integer', 'real') AND CAST(e.value AS REAL) = ${v}`)})`
      );
    }
    const v = this.text(value);
    return `((${type} = 'text' AND json_extract(a.metadata, ${p}) = ${v}) OR ${member(`e.type = 'text' AND e.value = ${v}`)})`;
  }

  private sqliteMetadataCompare(segments: readonly string[], cmp: string, value: QueryScalar): string {
    const p = this.params.add(sqlitePath(segments));
    const type = `json_type(a.metadata, ${p})`;
    if (typeof value === 'number') {
      return `(${type} IN ('integer', 'real') AND CAST(json_extract(a.metadata, ${p}) AS REAL) ${cmp} ${this.num(value)})`;
    }
    return `(${type} = 'text' AND json_extract(a.metadata, ${p}) ${cmp} ${this.text(value as string)})`;
  }

  // PostgreSQL: equality and membership are containment (`@>`), which the GIN index on metadata serves:
  // {"a":{"b":v}} matches b = v, {"a":{"b":[v]}} matches b being an array holding v. JSONB compares numbers
  // as exact decimals; both sides are JavaScript's shortest round-trip text of a double, so decimal
  // equality is double equality.
  private pgMetadataEq(segments: readonly string[], value: QueryScalar): string {
    if (value === null) {
      const p = this.params.add(pgPath(segments));
      const at = `(a.metadata #> ${p}::text[])`;
      return `(${at} IS NULL OR jsonb_typeof(${at}) = 'null')`;
    }
    const scalar = this.params.add(JSON.stringify(nest(segments, value)));
    const member = this.params.add(JSON.stringify(nest(segments, [value])));
    return `(a.metadata @> ${scalar}::jsonb OR a.metadata @> ${member}::jsonb)`;
  }

  // CASE rather than AND: PostgreSQL does not promise to test the type before attempting the cast.
  private pgMetadataCompare(segments: readonly string[], cmp: string, value: QueryScalar): string {
    const p = this.params.add(pgPath(segments));
    const kind = `jsonb_typeof(a.metadata #> ${p}::text[])`;
    const text = `(a.metadata #>> ${p}::text[])`;
    if (typeof value === 'number') {
      return `(CASE WHEN ${kind} = 'number' THEN ${text}::double precision ${cmp} ${this.num(value)} ELSE FALSE END)`;
    }
    return `(CASE WHEN ${kind} = 'string' THEN ${text} COLLATE "C" ${cmp} ${this.text(value as string)} ELSE FALSE END)`;
  }
}

/** `$."a"."b"`: every key quoted (keys are restricted to [A-Za-z0-9_-], so quoting is always safe). */
function sqlitePath(segments: readonly string[]): string {
  return `$${segments.map((s) => `."${s}"`).join('')}`;
}

/** `{"a","b"}`: a text[] literal, every element quoted so a key like `null` stays a key. */
function pgPath(segments: readonly string[]): string {
  return `{${segments.map((s) => `"${s}"`).join(',')}}`;
}

function nest(segments: readonly string[], leaf: unknown): unknown {
  return segments.reduceRight<unknown>((inner, key) => ({ [key]: inner }), leaf);
}

/**
 * The WHERE clause (without the keyword) for a list of checked conditions over `garrison_agents a`, or
 * an always-true clause for none. Placeholders continue from `params`.
 */
export function compileConditions(
  dialect: Dialect,
  conditions: readonly Condition[],
  params: Params,
): string {
  if (conditions.length === 0) return '1 = 1';
  const compiler = new Compiler(dialect, params);
  return conditions.map((c) => compiler.condition(c)).join(' AND ');
}
