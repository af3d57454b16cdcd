import type { PostgresStoreOptions, StoreTimers } from './postgres/postgres-store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';
import { DEFAULT_STORE_URL, parseStoreUrl } from './url.js';

export interface OpenStoreOptions {
  /** Apply pending migrations when opening. Default true. */
  readonly migrate?: boolean;
  /**
   * Create the store when there is none (SQLite: the folders and the file; PostgreSQL: the schema and its
   * tables). Default true. With false, a missing store is `store_not_found` and nothing is created.
   */
  readonly create?: boolean;
  /** SQLite only: see `SqliteStoreOptions.synchronous`. A `?synchronous=` in the URL wins. */
  readonly synchronous?: SqliteStoreOptions['synchronous'];
  /** PostgreSQL only: the schema to use. A `?schema=` in the URL wins. Default `garrison`. */
  readonly schema?: string;
  /** PostgreSQL only: the pool size. A `?pool=` in the URL wins. Default 10. */
  readonly poolSize?: number;
  /** PostgreSQL only: how long one connection attempt may take, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * PostgreSQL only: timers for retrying the LISTEN connection while the server is away (pass the
   * runtime's `Clock`). Default none: it is retried at once and then on the next store activity.
   */
  readonly clock?: StoreTimers;
  /** PostgreSQL only: receives errors no caller waits for (dropped idle connections). Default: a warning. */
  readonly onBackgroundError?: (error: unknown) => void;
  /** Largest number of writes committed together by `store.write`. Default 512. */
  readonly maxBatch?: number;
  /** The time source for migration records, in UNIX epoch ms. */
  readonly now?: () => number;
}

/** Opens the store a URL names (default: the embedded SQLite file `.garrison/garrison.db`). */
export async function openStore(
  url: string = DEFAULT_STORE_URL,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const parsed = parseStoreUrl(url);
  if (parsed.kind === 'sqlite') {
    return SqliteStore.open({
      path: parsed.path,
      synchronous: parsed.synchronous ?? options.synchronous,
      busyTimeoutMs: parsed.busyTimeoutMs,
      migrate: options.migrate,
      create: options.create,
      maxBatch: options.maxBatch,
      now: options.now,
    });
  }
  // Loaded on demand so an embedded-only process never opens the pg driver.
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  const pgOptions: PostgresStoreOptions = {
    connectionString: parsed.connectionString,
    redacted: parsed.redacted,
    schema: parsed.schema ?? options.schema ?? 'garrison',
    poolSize: parsed.poolSize ?? options.poolSize,
    connectTimeoutMs: options.connectTimeoutMs,
    clock: options.clock,
    onBackgroundError: options.onBackgroundError,
    migrate: options.migrate,
    create: options.create,
    maxBatch: options.maxBatch,
    now: options.now,
  };
  return PostgresStore.open(pgOptions);
}
