/** The SQL dialects Garrison speaks. Code switches on this right at the SQL that differs. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * A value bound to a statement parameter. Booleans are stored as 0/1 on SQLite; `undefined` binds as
 * NULL. Timestamps are stored as integer UNIX epoch milliseconds on both dialects.
 */
export type SqlValue = string | number | bigint | boolean | null | undefined | Buffer;

export type Row = Record<string, unknown>;

export interface ExecResult {
  /** Rows inserted, updated or deleted by the statement. */
  readonly rowCount: number;
}

/**
 * Runs SQL. Statements use PostgreSQL-style numbered parameters (`$1`, `$2`, …) on both dialects.
 */
export interface Executor {
  readonly dialect: Dialect;
  /** Runs a statement that returns rows. */
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement for its effect. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult>;
}

/** A transaction in progress. Everything run through it commits together or not at all. */
export interface Tx extends Executor {
  /**
   * Runs `fn` inside a savepoint: if it throws, only its own writes are undone and the error is
   * rethrown; the enclosing transaction goes on.
   */
  savepoint<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `fn` after this transaction commits (never if it rolls back). */
  afterCommit(fn: () => void): void;
}

export interface TransactionOptions {
  /**
   * A hook called inside the transaction before COMMIT. Tests use it to kill a process mid-transaction;
   * production code has no reason to set it.
   */
  readonly beforeCommit?: () => void | Promise<void>;
}

export interface MigrationInfo {
  readonly id: number;
  readonly name: string;
}

export interface MigrationReport {
  /** Migrations this call applied, in order. Empty when the database was already current. */
  readonly applied: MigrationInfo[];
  /** The highest migration id the database now holds. */
  readonly version: number;
}

export interface StoreStatus {
  readonly dialect: Dialect;
  /** A description of where the data lives, with any password removed. */
  readonly location: string;
  /** The highest migration id applied to the database. 0 when none. */
  readonly version: number;
  /** The highest migration id this code knows. */
  readonly latest: number;
  /** Migration ids this code knows and the database has not applied. */
  readonly pending: number[];
}

/** What an adapter can do beyond the common contract. */
export interface StoreCapabilities {
  /** LISTEN/NOTIFY-style wake-ups across processes. */
  readonly notify: boolean;
  /** `FOR UPDATE SKIP LOCKED` row claiming. */
  readonly skipLocked: boolean;
  /** Several processes may write at once (SQLite serializes them through one file lock). */
  readonly multiWriter: boolean;
}

export type Unsubscribe = () => Promise<void>;

/**
 * A named lock held by one store instance across transactions (see `Store.tryLock`). Leadership — one
 * node doing a job for all — is built on it.
 */
export interface StoreLock {
  readonly name: string;
  /** True until it is released or lost. */
  readonly held: boolean;
  /**
   * Calls `fn` once when the lock is lost without `release`: its connection to the database closed or
   * the store was closed. At once (asynchronously) when it is already lost.
   */
  onLost(fn: () => void): void;
  /** Gives the lock up; a no-op once it is not held. */
  release(): Promise<void>;
}

/**
 * The single source of truth. Every layer above uses this interface and nothing else of the database.
 */
export interface Store extends Executor {
  readonly capabilities: StoreCapabilities;
  /**
   * Runs `fn` in a transaction: everything written through `tx` commits together or not at all. Calling
   * `store.transaction` again from inside `fn` is rejected with `nested_transaction`; use
   * `tx.savepoint` for nested units.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Submits a small write for group commit: concurrent writes are batched into one transaction, each in
   * its own savepoint, so one failing write does not undo the others. The promise resolves with `fn`'s
   * result only after the batch has committed.
   */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Applies every pending migration. Safe to call from several processes at once. */
  migrate(): Promise<MigrationReport>;
  status(): Promise<StoreStatus>;
  /**
   * Sends a wake-up on `channel` after the current transaction commits (or at once outside one). A no-op
   * where `capabilities.notify` is false; local listeners are still called.
   */
  notify(channel: string, payload?: string): Promise<void>;
  /** Listens for wake-ups on `channel`, from this process and (where supported) from others. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Unsubscribe>;
  /**
   * Takes the lock `name` if nobody holds it; undefined when someone does. PostgreSQL: a session advisory
   * lock (keyed by schema and name) on one dedicated connection of this store, released by the server
   * when that connection ends — a node that dies loses it. SQLite: held within this process per
   * database file (SQLite has one writer per file; separate processes each hold their own).
   */
  tryLock(name: string): Promise<StoreLock | undefined>;
  /** Closes every connection (held locks are lost). Further use fails with `store_closed`. */
  close(): Promise<void>;
}
