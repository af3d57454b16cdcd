/**
 * The SQLite adapter's statement cache stays bounded: many distinct statements (each a compiled program
 * in native memory) never grow it past its size, and long one-off SQL is not kept at all.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  SqliteStore,
  STATEMENT_CACHE_MAX_SQL,
  STATEMENT_CACHE_SIZE,
} from '../../src/store/sqlite/sqlite-store.js';
import { sqliteAdapter } from '../support/stores.js';

describe('SQLite statement cache', () => {
  let store: SqliteStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function open(): Promise<SqliteStore> {
    const s = await sqliteAdapter.open();
    if (!(s instanceof SqliteStore)) throw new Error('expected a SqliteStore');
    store = s;
    return s;
  }

  it('holds at most its size per connection however many distinct statements run', async () => {
    const s = await open();
    for (let i = 0; i < STATEMENT_CACHE_SIZE * 5; i++) {
      const rows = await s.query<{ v: number }>(`SELECT ${i} AS v`);
      expect(rows[0]?.v).toBe(i);
    }
    expect(s.cachedStatements).toBeLessThanOrEqual(STATEMENT_CACHE_SIZE * 2);
    expect(s.cachedStatements).toBeGreaterThan(0);
  });

  it('keeps the statements in use: the least recently used goes first', async () => {
    const s = await open();
    await s.query('SELECT 1 AS hot');
    const before = s.cachedStatements;
    for (let i = 0; i < STATEMENT_CACHE_SIZE * 2; i++) {
      await s.query(`SELECT ${i} AS cold`);
      await s.query('SELECT 1 AS hot'); // a hit moves it to the back
    }
    const settled = s.cachedStatements;
    await s.query('SELECT 1 AS hot');
    expect(s.cachedStatements).toBe(settled); // still cached: running it added nothing
    expect(before).toBeGreaterThan(0);
  });

  it('never caches SQL longer than the bound', async () => {
    const s = await open();
    await s.query('SELECT 1 AS warm');
    const before = s.cachedStatements;
    for (let i = 0; i < 50; i++) {
      const long = `SELECT ${i} AS v /* ${'x'.repeat(STATEMENT_CACHE_MAX_SQL)} */`;
      expect((await s.query<{ v: number }>(long))[0]?.v).toBe(i);
    }
    expect(s.cachedStatements).toBe(before);
  });
});
