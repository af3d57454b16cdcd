/**
 * The store adapters every contract test runs over. Each `open()` gives a fresh, isolated, migrated
 * store: a new SQLite file in a temp folder, or a new schema on the shared PostgreSQL server.
 *
 *   describe.each(adapters)('$name', (adapter) => { … const store = await adapter.open(); … });
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject, it } from 'vitest';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';

export interface TestAdapter {
  readonly name: 'sqlite' | 'postgres';
  /** A store URL for a fresh, empty database (SQLite file or PostgreSQL schema). */
  freshUrl(): string;
  /** Opens a fresh, migrated store. */
  open(options?: OpenStoreOptions): Promise<Store>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export const sqliteAdapter: TestAdapter = {
  name: 'sqlite',
  freshUrl() {
    return `sqlite:${join(mkdtempSync(join(tmpdir(), 'garrison-test-')), 'garrison.db')}`;
  },
  open(options) {
    return openStore(this.freshUrl(), options);
  },
};

export const postgresAdapter: TestAdapter = {
  name: 'postgres',
  freshUrl() {
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('schema', uniqueName('garrison_test'));
    return url.toString();
  },
  open(options) {
    return openStore(this.freshUrl(), options);
  },
};

export const adapters: readonly TestAdapter[] = [sqliteAdapter, postgresAdapter];

/**
 * `it` for a case that exists only on PostgreSQL (cross-connection NOTIFY, index plans): on other
 * adapters the case is not defined at all, rather than reported as skipped.
 */
export function itOnPostgres(adapter: TestAdapter): typeof it {
  return adapter.name === 'postgres' ? it : ((() => undefined) as unknown as typeof it);
}
