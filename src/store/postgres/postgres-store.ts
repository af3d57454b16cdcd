/**
 * The PostgreSQL adapter (pg 8): a pool of connections that all work in one schema, transactions on a
 * dedicated client, group commit, migrations under an advisory lock, and LISTEN/NOTIFY wake-ups shared
 * by any number of processes.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { describeIssues } from '../../errors.js';
import { StoreError, StoreErrorCode } from '../errors.js';
import { GroupCommitter } from '../group-commit.js';
import { LocalChannels } from '../local-channels.js';
import {
  appliedVersion,
  applyPending,
  latestMigration,
  loadMigrations,
  schemaTooNew,
} from '../migrations.js';
import { assertNotInTransaction, currentTransaction, runInTransaction } from '../transaction.js';
import type {
  ExecResult,
  MigrationReport,
  Row,
  SqlValue,
  Store,
  StoreCapabilities,
  StoreLock,
  StoreStatus,
  TransactionOptions,
  Tx,
  Unsubscribe,
} from '../types.js';
import { clientConfig, createPool, PgConnection } from './connection.js';
import { endpointOf, mapPostgresError, type PgEndpoint } from './errors.js';
import { PgAdvisoryLocks } from './advisory-locks.js';
import { PgListener, type StoreTimers } from './listener.js';

export type { StoreTimers } from './listener.js';

export interface PostgresStoreOptions {
  /** A postgres:// URL without Garrison's own parameters (`schema`, `pool`). */
  readonly connectionString: string;
  /** The same URL with its password replaced by `***`; the only form used in messages and status. */
  readonly redacted: string;
  /** The schema holding Garrison's tables; created by `migrate` when missing. A lower-case identifier. */
  readonly schema: string;
  /** Connections in the pool. Default 10. */
  readonly poolSize?: number;
  /** How long one connection attempt may take before `store_unreachable`, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Apply pending migrations when opening. Default true. */
  readonly migrate?: boolean;
  /** Create the schema and its tables when missing. Default true; false: `store_not_found` instead. */
  readonly create?: boolean;
  /** Largest number of writes committed together by `write`. Default 512. */
  readonly maxBatch?: number;
  /** The time source for migration records, in UNIX epoch ms. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Timers for retrying the LISTEN connection while the server is down (pass the runtime's `Clock`).
   * Default: none — a lost LISTEN connection is re-opened at once and, if that fails, on the next store
   * activity.
   */
  readonly clock?: StoreTimers;
  /**
   * Receives errors no caller is waiting for (an idle connection dropped by the server, a lost LISTEN
   * connection). Default: a process warning.
   */
  readonly onBackgroundError?: (error: unknown) => void;
}

const optionsSchema = z.object({
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (a-z, 0-9, _; at most 63)')
    .refine((s) => !s.startsWith('pg_'), 'names starting with pg_ are reserved by PostgreSQL'),
  poolSize: z.number().int().min(1).max(200).optional(),
  connectTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  maxBatch: z.number().int().min(1).max(100_000).optional(),
});

/** NOTIFY channel names are identifiers of at most 63 bytes. */
const MAX_CHANNEL_BYTES = 63;

function defaultBackgroundError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`PostgreSQL store: ${message}`, 'GarrisonWarning');
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly capabilities: StoreCapabilities = { notify: true, skipLocked: true, multiWriter: true };
  /** The redacted URL with its schema: where the data lives. */
  readonly location: string;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly onPool: PgConnection;
  private readonly endpoint: PgEndpoint;
  private readonly committer: GroupCommitter;
  private readonly channels = new LocalChannels();
  private readonly listener: PgListener;
  private readonly locks: PgAdvisoryLocks;
  /** Backend process ids of this store's pool connections: their notifications were delivered locally. */
  private readonly ownPids = new Set<number>();
  /** NOTIFY channel name → the caller's channel name, for channels listened to. */
  private readonly channelNames = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly reportError: (error: unknown) => void;
  private closed = false;

  private constructor(options: PostgresStoreOptions) {
    this.schema = options.schema;
    this.location = locationOf(options.redacted, options.schema);
    this.now = options.now ?? Date.now;
    this.reportError = options.onBackgroundError ?? defaultBackgroundError;
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.endpoint = {
      hostPort: endpointOf(options.connectionString),
      redacted: options.redacted,
      connectTimeoutMs,
    };
    const settings = { connectionString: options.connectionString, schema: options.schema, connectTimeoutMs };
    this.pool = createPool(settings, options.poolSize ?? 10);
    this.pool.on('error', (error) => this.reportError(mapPostgresError(error, this.endpoint)));
    this.pool.on('connect', (client) => {
      const pid = (client as pg.PoolClient & { processID?: number }).processID;
      if (typeof pid === 'number') this.ownPids.add(pid);
      // The server answers again: a LISTEN connection lost meanwhile can come back now.
      this.listener.poke();
    });
    this.pool.on('remove', (client) => {
      const pid = (client as pg.PoolClient & { processID?: number }).processID;
      if (typeof pid === 'number') this.ownPids.delete(pid);
    });
    this.onPool = new PgConnection(this.pool, this.endpoint);
    this.listener = new PgListener({
      config: clientConfig(settings),
      endpoint: this.endpoint,
      timers: options.clock,
      onError: this.reportError,
      onNotification: (channel, payload, pid) => {
        const local = this.channelNames.get(channel);
        if (local !== undefined && !this.ownPids.has(pid)) this.channels.emit(local, payload);
      },
    });
    this.locks = new PgAdvisoryLocks({
      config: clientConfig(settings),
      endpoint: this.endpoint,
      schema: this.schema,
      onError: this.reportError,
    });
    this.committer = new GroupCommitter({
      maxBatch: options.maxBatch,
      runTransaction: (body) =>
        this.withClient((conn) => runInTransaction(this, 'postgres', conn, 'BEGIN', body)),
    });
  }

  /**
   * Connects, checks the server answers, and by default migrates (creating the schema). Refuses a
   * database whose schema is newer than this code with `schema_too_new`, migrating or not.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const checked = optionsSchema.safeParse(options);
    if (!checked.success) {
      throw new StoreError(
        StoreErrorCode.urlInvalid,
        `invalid PostgreSQL store settings for ${options.redacted}: ${describeIssues(checked.error.issues)}` +
          (options.schema === undefined ? '' : ` (schema "${options.schema}")`),
      );
    }
    const store = new PostgresStore(options);
    try {
      if (options.create === false && !(await store.hasMigrationsTable()))
        throw new StoreError(
          StoreErrorCode.notFound,
          `there is no store at ${store.location} (no such schema)`,
        );
      if (options.migrate ?? true) await store.migrate();
      else await store.assertNotTooNew();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    this.assertOpen();
    return this.track(this.onPool.query<T>(sql, params));
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.execute');
    return this.track(this.onPool.execute(sql, params));
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.transaction');
    return this.track(
      this.withClient((conn) => runInTransaction(this, 'postgres', conn, 'BEGIN', fn, options?.beforeCommit)),
    );
  }

  async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.write');
    return this.committer.submit(fn);
  }

  /**
   * One transaction: an advisory lock keyed by the schema (so concurrent migrators of the same schema
   * queue up and the later ones find nothing to do), the schema created if missing, then every pending
   * migration, each recorded before it runs.
   */
  async migrate(): Promise<MigrationReport> {
    this.assertOpen();
    return this.track(
      this.withClient((conn) =>
        runInTransaction(this, 'postgres', conn, 'BEGIN', async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey(this.schema)]);
          const exists = await tx.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [
            this.schema,
          ]);
          // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when it exists.
          if (exists.length === 0) await tx.execute(`CREATE SCHEMA "${this.schema}"`);
          return applyPending(tx, (sql) => conn.script(sql), this.location, this.now());
        }),
      ),
    );
  }

  async status(): Promise<StoreStatus> {
    this.assertOpen();
    const version = await this.track(this.currentVersion());
    return {
      dialect: 'postgres',
      location: this.location,
      version,
      latest: latestMigration('postgres'),
      pending: loadMigrations('postgres')
        .filter((m) => m.id > version)
        .map((m) => m.id),
    };
  }

  /**
   * Sends a wake-up to listeners in every process. Inside a transaction of this store it goes out with
   * the commit (PostgreSQL holds NOTIFY until COMMIT and drops it on rollback, savepoints included).
   */
  async notify(channel: string, payload = ''): Promise<void> {
    this.assertOpen();
    this.listener.poke();
    const name = this.channelName(channel);
    const tx = currentTransaction(this);
    if (tx !== undefined) {
      await tx.query('SELECT pg_notify($1, $2)', [name, payload]);
      tx.afterCommit(() => this.channels.emit(channel, payload));
      return;
    }
    this.channels.emit(channel, payload);
    await this.track(this.onPool.query('SELECT pg_notify($1, $2)', [name, payload]));
  }

  /**
   * Calls `onNotify` for every wake-up on `channel`, from this store and from any other process on the
   * same schema. Resolves once the server listens, so a notify sent after it is delivered.
   */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<Unsubscribe> {
    this.assertOpen();
    const name = this.channelName(channel);
    this.channelNames.set(name, channel);
    const remove = this.channels.add(channel, onNotify);
    const release = async (): Promise<void> => {
      remove();
      if (this.channels.has(channel)) return;
      this.channelNames.delete(name);
      await this.listener.remove(name);
    };
    try {
      await this.track(this.listener.add(name));
    } catch (error) {
      await release();
      throw error;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      await release();
    };
  }

  /**
   * Takes a session advisory lock keyed by this schema and `name` on the store's dedicated lock
   * connection (opened on first use, kept until `close`); undefined when another session holds it.
   */
  async tryLock(name: string): Promise<StoreLock | undefined> {
    this.assertOpen();
    return this.track(this.locks.tryLock(name));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Work already accepted finishes (commits or fails) before the connections go.
    await this.committer.idle();
    await Promise.allSettled([...this.inflight]);
    await this.locks.close();
    await this.listener.close();
    await this.pool.end();
  }

  /** The NOTIFY channel for `channel`: namespaced by schema so stores on other schemas never hear it. */
  private channelName(channel: string): string {
    const full = `${this.schema}.${channel}`;
    if (Buffer.byteLength(full) <= MAX_CHANNEL_BYTES) return full;
    return `${this.schema.slice(0, 20)}.${createHash('sha256').update(full).digest('hex').slice(0, 40)}`;
  }

  /** Runs `fn` on a client of its own; a client left in an unknown state is destroyed, not reused. */
  private async withClient<T>(fn: (conn: PgConnection) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw mapPostgresError(error, this.endpoint);
    }
    const conn = new PgConnection(client, this.endpoint);
    // A socket error while checked out also fails the running query; here it only marks the client.
    const onError = () => {
      conn.broken = true;
    };
    client.on('error', onError);
    try {
      return await fn(conn);
    } finally {
      client.off('error', onError);
      client.release(conn.broken);
    }
  }

  private async currentVersion(): Promise<number> {
    return appliedVersion(this.onPool, await this.hasMigrationsTable());
  }

  private async hasMigrationsTable(): Promise<boolean> {
    const exists = await this.onPool.query(
      "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'garrison_migrations'",
      [this.schema],
    );
    return exists.length > 0;
  }

  private async assertNotTooNew(): Promise<void> {
    const version = await this.currentVersion();
    const latest = latestMigration('postgres');
    if (version > latest) throw schemaTooNew(version, latest, this.location);
  }

  /** Keeps `work` in view so `close` can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const forget = () => this.inflight.delete(work);
    void work.then(forget, forget);
    return work;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.closed, `the store at ${this.location} is closed`);
  }
}

/** A stable 64-bit advisory lock key for migrating `schema`. */
function migrationLockKey(schema: string): string {
  const digest = createHash('sha256').update(`garrison.migrate:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

function locationOf(redacted: string, schema: string): string {
  try {
    const url = new URL(redacted);
    url.searchParams.set('schema', schema);
    return url.toString();
  } catch {
    return `${redacted} (schema ${schema})`;
  }
}
