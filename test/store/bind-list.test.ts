/**
 * A list bound as one parameter (`src/store/sql/bind-list.ts`) means on both engines exactly what the
 * list holds: any text survives (quotes, commas, braces, backslashes, the word NULL), numbers compare as
 * numbers, an empty list matches nothing, and a list's length never changes the SQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindList, listOperand, listParam, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';

const AWKWARD = [
  'plain',
  'a"quote',
  'com,ma',
  '{brace}',
  'back\\slash',
  'NULL',
  'null',
  '',
  ' spaced ',
  'é✓',
  '[1]',
];

describe.each(adapters)('bindList on $name', (adapter) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function table(): Promise<Store> {
    store = await adapter.open();
    await store.execute(
      'CREATE TABLE bind_list_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)',
    );
    let id = 1;
    for (const name of AWKWARD) {
      await store.execute('INSERT INTO bind_list_items (id, name, score) VALUES ($1, $2, $3)', [
        id,
        name,
        id / 2,
      ]);
      id++;
    }
    return store;
  }

  async function names(s: Store, where: { sql: string; param: unknown }): Promise<string[]> {
    const rows = await s.query<{ name: string }>(
      `SELECT name FROM bind_list_items WHERE ${where.sql} ORDER BY id`,
      [where.param as string],
    );
    return rows.map((r) => r.name);
  }

  it('text lists match exactly the texts they hold, however awkward', async () => {
    const s = await table();
    expect(await names(s, bindList(s.dialect, 'name', 'text', AWKWARD, 1))).toEqual(AWKWARD);
    for (const one of AWKWARD) {
      expect(await names(s, bindList(s.dialect, 'name', 'text', [one, 'absent'], 1))).toEqual([one]);
    }
    expect(await names(s, bindList(s.dialect, 'name', 'text', [], 1))).toEqual([]);
  });

  it('integer and real lists compare as numbers', async () => {
    const s = await table();
    expect(await names(s, bindList(s.dialect, 'id', 'integer', [2, 4, 99], 1))).toEqual([
      'a"quote',
      '{brace}',
    ]);
    expect(await names(s, bindList(s.dialect, 'score', 'real', [1, 1.5, 7], 1))).toEqual([
      'a"quote',
      'com,ma',
    ]);
    expect(() => listParam(s.dialect, 'integer', [1.5])).toThrow('integer list');
    expect(() => listParam(s.dialect, 'real', [Number.NaN])).toThrow('real list');
  });

  it('a list of 10,000 items is one parameter and the SQL does not depend on its length', async () => {
    const s = await table();
    const long = [...Array.from({ length: 10_000 }, (_, i) => `n${i}`), 'NULL'];
    const a = bindList(s.dialect, 'name', 'text', long, 1);
    const b = bindList(s.dialect, 'name', 'text', ['x'], 1);
    expect(a.sql).toBe(b.sql);
    expect(await names(s, a)).toEqual(['NULL']);
  });

  it('an operand can be used by a comparison of its own', async () => {
    const s = await table();
    const operand = listOperand(s.dialect, 'text', '$1');
    const sql = s.dialect === 'postgres' ? `NOT (name = ${operand})` : `name NOT IN ${operand}`;
    const rows = await s.query<{ name: string }>(
      `SELECT name FROM bind_list_items WHERE ${sql} ORDER BY id`,
      [listParam(s.dialect, 'text', AWKWARD.slice(1))],
    );
    expect(rows.map((r) => r.name)).toEqual(['plain']);
  });
});
