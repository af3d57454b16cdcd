/**
 * The embedded SQLite adapter (better-sqlite3 12). WAL mode; every write goes through one connection in
 * submission order; reads outside transactions use a second, read-only connection so they never wait
 * behind a writer.
 */
import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StoreError, StoreErrorCode } from '../errors.js';
import { GroupCommitter } from '../group-commit.js';
import { HeldLock } from '../held-lock.js';
import { LocalChannels } from '../local-channels.js';
import {
  appliedVersion,
  applyPending,
  latestMigration,
  loadMigrations,
  schemaTooNew,
} from '../migrations.js';
import { SerialQueue } from '../serial-queue.js';
import {
  assertNotInTransaction,
  currentTransaction,
  runInTransaction,
  type TxConnection,
} from '../transaction.js';
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
import { mapSqliteError } from './errors.js';

/** How hard SQLite flushes to disk at commit. */
export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'EXTRA';

export interface SqliteStoreOptions {
  /** The database file, or `:memory:` for a private in-memory database. */
  readonly path: string;
  /**
   * `FULL` (default): a commit is on disk before it is acknowledged, so an acknowledged write survives
   * power loss. `NORMAL`: in WAL mode the last commits may be lost on power loss (never on a process
   * crash) but commits are much cheaper. `EXTRA`: also syncs the directory.
   */
  readonly synchronous?: SqliteSynchronous;
  /** How long a writer waits for another process's lock before `store_busy`, in ms. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Apply pending migrations when opening. Default true. */
  readonly migrate?: boolean;
  /** Create the folders and the database when missing. Default true; false: `store_not_found` instead. */
  readonly create?: boolean;
  /** Largest number of writes committed together by `write`. Default 512. */
  readonly maxBatch?: number;
  /** The time source for migration records, in UNIX epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

type Params = Record<string, unknown>;

/**
 * One write queue per database file for the whole process. better-sqlite3 blocks the thread while it
 * waits for a lock, so two stores of one process on the same file, each holding its own queue, would
 * stall each other until busy_timeout; sharing the queue makes them take turns instead.
 */
const fileQueues = new Map<string, { readonly queue: SerialQueue; users: number }>();

function acquireQueue(location: string): SerialQueue {
  if (location === ':memory:') return new SerialQueue();
  let entry = fileQueues.get(location);
  if (entry === undefined) {
    entry = { queue: new SerialQueue(), users: 0 };
    fileQueues.set(location, entry);
  }
  entry.users++;
  return entry.queue;
}

function releaseQueue(location: string): void {
  const entry = fileQueues.get(location);
  if (entry !== undefined && --entry.users === 0) fileQueues.delete(location);
}

/**
 * Creates the missing folders above the database one level at a time from the nearest existing one (a
 * recursive mkdir of Node never returns under some paths, e.g. in /proc); a level that cannot be made is
 * one clear error.
 */
function createFolders(folder: string): void {
  const missing: string[] = [];
  let at = folder;
  while (!existsSync(at)) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (error) {
      throw new StoreError(StoreErrorCode.readOnly, `cannot create the folder ${folder} for the database`, {
        cause: error,
      });
    }
  }
}

function hasMigrationsTable(conn: Connection): boolean {
  const rows = conn.querySync(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'garrison_migrations'",
  );
  return rows.length > 0;
}

/** Locks taken by `tryLock`, per database file for the whole process (see `Store.tryLock`). */
const fileLocks = new Map<string, Map<string, HeldLock>>();

function bindParams(params: readonly SqlValue[] | undefined): Params {
  const bound: Params = {};
  if (params === undefined) return bound;
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    bound[i + 1] = v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return bound;
}

/**
 * Prepared statements kept per connection, least recently used dropped first. The statements a process
 * runs over and over are few; a cache much larger only holds one-offs (each a compiled program in native
 * memory that lives as long as it is cached).
 */
export const STATEMENT_CACHE_SIZE = 200;
/** SQL longer than this (in characters) is prepared for each use and never cached: such text is a one-off. */
export const STATEMENT_CACHE_MAX_SQL = 4096;

/** Statement cache and execution for one better-sqlite3 connection. */
class Connection implements TxConnection {
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recently used first.
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly db: Database.Database,
    private readonly location: string,
  ) {}

  private prepare(sql: string): Database.Statement {
    const cached = this.statements.get(sql);
    if (cached !== undefined) {
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const stmt = this.db.prepare(sql);
    if (sql.length > STATEMENT_CACHE_MAX_SQL) return stmt;
    if (this.statements.size >= STATEMENT_CACHE_SIZE) {
      const oldest = this.statements.keys().next();
      if (oldest.done !== true) this.statements.delete(oldest.value);
    }
    this.statements.set(sql, stmt);
    return stmt;
  }

  /** How many statements the cache holds (for tests of its bound). */
  get cachedStatements(): number {
    return this.statements.size;
  }

  querySync<T = Row>(sql: string, params?: readonly SqlValue[]): T[] {
    try {
      const stmt = this.prepare(sql);
      if (!stmt.reader) {
        stmt.run(bindParams(params));
        return [];
      }
      return stmt.all(bindParams(params)) as T[];
    } catch (error) {
      throw mapSqliteError(error, this.location);
    }
  }

  executeSync(sql: string, params?: readonly SqlValue[]): ExecResult {
    try {
      const stmt = this.prepare(sql);
      if (stmt.reader) return { rowCount: stmt.all(bindParams(params)).length };
      return { rowCount: stmt.run(bindParams(params)).changes };
    } catch (error) {
      throw mapSqliteError(error, this.location);
    }
  }

  // async so a synchronous throw becomes a rejection.
  async query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.querySync<T>(sql, params);
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult> {
    return this.executeSync(sql, params);
  }

  script(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (error) {
      throw mapSqliteError(error, this.location);
    }
  }
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly capabilities: StoreCapabilities = { notify: false, skipLocked: false, multiWriter: false };
  readonly location: string;
  private readonly writer: Connection;
  private readonly reader: Connection;
  private readonly queue: SerialQueue;
  private readonly committer: GroupCommitter;
  private readonly channels = new LocalChannels();
  private readonly now: () => number;
  /** This store's held locks, lost when it closes. */
  private readonly locks = new Set<HeldLock>();
  /** The lock table of a private in-memory database (a file's table is shared by the process). */
  private memoryLocks: Map<string, HeldLock> | undefined;
  private closed = false;

  /** Prepared statements cached by both connections (at most twice `STATEMENT_CACHE_SIZE`). */
  get cachedStatements(): number {
    return this.writer.cachedStatements + (this.reader === this.writer ? 0 : this.reader.cachedStatements);
  }

  private constructor(
    writer: Connection,
    reader: Connection,
    location: string,
    queue: SerialQueue,
    options: SqliteStoreOptions,
  ) {
    this.writer = writer;
    this.queue = queue;
    this.reader = reader;
    this.location = location;
    this.now = options.now ?? Date.now;
    this.committer = new GroupCommitter({
      maxBatch: options.maxBatch,
      runTransaction: (body) =>
        this.queue.run(() => runInTransaction(this, 'sqlite', this.writer, 'BEGIN IMMEDIATE', body)),
    });
  }

  /** Opens (creating if needed) the database at `options.path` and, by default, migrates it. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const memory = options.path === ':memory:';
    const location = memory ? ':memory:' : resolve(options.path);
    if (!memory && options.create === false && !existsSync(location)) {
      const folder = dirname(location);
      const why = existsSync(folder) ? 'no such file' : `no folder ${folder}`;
      throw new StoreError(StoreErrorCode.notFound, `there is no store at ${location} (${why})`);
    }
    if (!memory) createFolders(dirname(location));
    if (!memory && existsSync(location)) {
      // SQLite opens a write-protected file read-only without a word and fails only at the first write;
      // the store refuses it up front instead.
      try {
        accessSync(location, constants.W_OK);
      } catch (error) {
        throw new StoreError(
          StoreErrorCode.readOnly,
          `${location} is read-only for this process; give it write permission or point the store at ` +
            'another file',
          { cause: error },
        );
      }
    }
    let writerDb: Database.Database | undefined;
    let readerDb: Database.Database | undefined;
    const queue = acquireQueue(location);
    try {
      writerDb = new Database(location);
      const writer = new Connection(writerDb, location);
      // A read first: a corrupt or foreign file fails here, before any pragma could write to it.
      writer.querySync('PRAGMA schema_version');
      if (options.create === false && !memory && !hasMigrationsTable(writer))
        throw new StoreError(
          StoreErrorCode.notFound,
          `there is no store at ${location} (no Garrison tables)`,
        );
      writer.querySync(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      if (!memory) {
        // Both take the write lock, so they wait their turn behind this process's other writers.
        await queue.run(async () => {
          // Writability is proven by taking the write lock; a read-only file or folder fails here.
          writer.script('BEGIN IMMEDIATE; ROLLBACK');
          const mode = writer.querySync<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
          if (mode[0]?.journal_mode !== 'wal') {
            throw new StoreError(StoreErrorCode.failed, `${location} could not be switched to WAL mode`);
          }
        });
      }
      writer.querySync(`PRAGMA synchronous = ${options.synchronous ?? 'FULL'}`);
      writer.querySync('PRAGMA foreign_keys = ON');
      let reader = writer;
      if (!memory) {
        readerDb = new Database(location, { readonly: true });
        reader = new Connection(readerDb, location);
        reader.querySync(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      }
      const store = new SqliteStore(writer, reader, location, queue, options);
      if (options.migrate ?? true) await store.migrate();
      else await store.assertNotTooNew();
      return store;
    } catch (error) {
      readerDb?.close();
      writerDb?.close();
      releaseQueue(location);
      throw mapSqliteError(error, location);
    }
  }

  // The public methods are async so that a refusal (closed, nested) is a rejection, never a throw.
  async query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    this.assertOpen();
    return this.reader.query<T>(sql, params);
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.execute');
    return this.queue.run(() => this.writer.execute(sql, params));
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.transaction');
    return this.queue.run(() =>
      runInTransaction(this, 'sqlite', this.writer, 'BEGIN IMMEDIATE', fn, options?.beforeCommit),
    );
  }

  async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOpen();
    assertNotInTransaction(this, 'store.write');
    return this.committer.submit(fn);
  }

  async migrate(): Promise<MigrationReport> {
    this.assertOpen();
    return this.queue.run(() =>
      runInTransaction(this, 'sqlite', this.writer, 'BEGIN IMMEDIATE', (tx) =>
        applyPending(tx, (sql) => Promise.resolve(this.writer.script(sql)), this.location, this.now()),
      ),
    );
  }

  async status(): Promise<StoreStatus> {
    this.assertOpen();
    const version = await this.currentVersion();
    const latest = latestMigration('sqlite');
    return {
      dialect: 'sqlite',
      location: this.location,
      version,
      latest,
      pending: loadMigrations('sqlite')
        .filter((m) => m.id > version)
        .map((m) => m.id),
    };
  }

  async notify(channel: string, payload = ''): Promise<void> {
    this.assertOpen();
    const tx = currentTransaction(this);
    // Inside a transaction the wake-up goes out with the commit, and not at all on a rollback.
    if (tx !== undefined) tx.afterCommit(() => this.channels.emit(channel, payload));
    else this.channels.emit(channel, payload);
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<Unsubscribe> {
    this.assertOpen();
    const remove = this.channels.add(channel, onNotify);
    return async () => remove();
  }

  async tryLock(name: string): Promise<StoreLock | undefined> {
    this.assertOpen();
    const table = this.lockTable();
    if (table.has(name)) return undefined;
    const lock = new HeldLock(name, async (l) => this.forgetLock(l));
    table.set(name, lock);
    this.locks.add(lock);
    return lock;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of [...this.locks]) {
      this.forgetLock(lock);
      lock.lose();
    }
    // Writes already accepted are committed (or fail) before the connections go.
    await this.committer.idle();
    await this.queue.run(async () => undefined);
    if (this.reader !== this.writer) this.reader.db.close();
    this.writer.db.close();
    releaseQueue(this.location);
  }

  private lockTable(): Map<string, HeldLock> {
    if (this.location === ':memory:') return (this.memoryLocks ??= new Map<string, HeldLock>());
    let table = fileLocks.get(this.location);
    if (table === undefined) {
      table = new Map();
      fileLocks.set(this.location, table);
    }
    return table;
  }

  private forgetLock(lock: HeldLock): void {
    this.locks.delete(lock);
    const table = this.location === ':memory:' ? this.memoryLocks : fileLocks.get(this.location);
    if (table?.get(lock.name) === lock) table.delete(lock.name);
    if (table?.size === 0 && this.location !== ':memory:') fileLocks.delete(this.location);
  }

  /** Runs a synchronous `PRAGMA integrity_check`; "ok" when the file is sound. */
  integrityCheck(): string {
    const rows = this.reader.querySync<{ integrity_check: string }>('PRAGMA integrity_check');
    return rows.map((r) => r.integrity_check).join('\n');
  }

  private async currentVersion(): Promise<number> {
    const exists = await this.reader.query(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'garrison_migrations'",
    );
    return appliedVersion(this.reader, exists.length > 0);
  }

  private async assertNotTooNew(): Promise<void> {
    const version = await this.currentVersion();
    const latest = latestMigration('sqlite');
    if (version > latest) throw schemaTooNew(version, latest, this.location);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.closed, `the store at ${this.location} is closed`);
  }
}
