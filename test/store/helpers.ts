/**
 * Small helpers for the store tests: stores that are closed after each test, a scratch table, promises a
 * test resolves by hand, and child processes running a TypeScript fixture.
 */
import { join } from 'node:path';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import { repositoryRoot as root, spawnScript, type ChildExit, type ChildOptions } from '../support/child.js';
import type { TestAdapter } from '../support/stores.js';

/** Opens stores for one test and closes them all afterwards (`afterEach(() => stores.closeAll())`). */
export class OpenStores {
  private readonly open: Store[] = [];

  /** A fresh, migrated store and its URL, so a test can open more stores on the same database. */
  async fresh(adapter: TestAdapter, options?: OpenStoreOptions): Promise<{ store: Store; url: string }> {
    const url = adapter.freshUrl();
    return { store: await this.at(url, options), url };
  }

  async at(url: string, options?: OpenStoreOptions): Promise<Store> {
    return this.add(await openStore(url, options));
  }

  /** Takes a store opened some other way into the set. */
  add<T extends Store>(store: T): T {
    this.open.push(store);
    return store;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((s) => s.close()));
  }
}

/** A scratch table for tests: `items(id, label)` with a unique label. */
export async function createItems(store: Store): Promise<void> {
  await store.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, label TEXT NOT NULL UNIQUE)');
}

/** Every label in `items`, by id. */
export async function labels(store: Pick<Store, 'query'>): Promise<string[]> {
  const rows = await store.query<{ label: string }>('SELECT label FROM items ORDER BY id');
  return rows.map((r) => r.label);
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Runs a TypeScript fixture from `test/store/fixtures/` in a new Node process to its end. */
export function runFixture(
  name: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<ChildExit> {
  return spawnScript(join(root, 'test', 'store', 'fixtures', name), args, options).exited;
}

/** What the `open-store` fixture prints: the outcome of opening a store in the child. */
export type OpenOutcome =
  | { readonly ok: true; readonly location: string; readonly version: number }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string };

export function parseOutcome(result: ChildExit): OpenOutcome {
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as OpenOutcome;
  } catch {
    throw new Error(`the child printed no outcome (exit ${result.code}): ${result.stdout}${result.stderr}`);
  }
}
