/**
 * The transaction object both adapters hand out, written once over a minimal connection interface, plus
 * the guard that rejects `store.transaction` from inside a transaction of the same store.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreError, StoreErrorCode } from './errors.js';
import type { Dialect, ExecResult, Row, SqlValue, Tx } from './types.js';

/** The least a connection must do for a transaction to run over it. */
export interface TxConnection {
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult>;
}

interface ActiveTx {
  readonly owner: object;
  readonly tx: Tx;
  active: boolean;
}

const current = new AsyncLocalStorage<ActiveTx>();

/** Throws `nested_transaction` when called inside a live transaction of `owner`. */
export function assertNotInTransaction(owner: object, what: string): void {
  const tx = current.getStore();
  if (tx !== undefined && tx.active && tx.owner === owner) {
    throw new StoreError(
      StoreErrorCode.nestedTransaction,
      `${what} was called inside a transaction of the same store; run it through the transaction's ` +
        '`tx` (use `tx.savepoint(fn)` for a nested unit) so it commits or rolls back with it',
    );
  }
}

/**
 * The live transaction of `owner` the caller runs inside, if any. `store.notify` uses it to send its
 * wake-up with the transaction (after COMMIT, never after a rollback).
 */
export function currentTransaction(owner: object): Tx | undefined {
  const tx = current.getStore();
  return tx !== undefined && tx.active && tx.owner === owner ? tx.tx : undefined;
}

export class ConnectionTx implements Tx {
  private savepoints = 0;
  private readonly afterCommitHooks: Array<() => void> = [];
  private closed = false;

  constructor(
    readonly dialect: Dialect,
    private readonly conn: TxConnection,
  ) {}

  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    this.assertOpen();
    return this.conn.query<T>(sql, params);
  }

  execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult> {
    this.assertOpen();
    return this.conn.execute(sql, params);
  }

  async savepoint<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOpen();
    const name = `garrison_sp_${++this.savepoints}`;
    await this.conn.execute(`SAVEPOINT ${name}`);
    const hooksBefore = this.afterCommitHooks.length;
    let result: T;
    try {
      result = await fn(this);
    } catch (error) {
      await this.conn.execute(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.conn.execute(`RELEASE SAVEPOINT ${name}`);
      // Hooks registered by the undone work must not run.
      this.afterCommitHooks.length = hooksBefore;
      throw error;
    }
    await this.conn.execute(`RELEASE SAVEPOINT ${name}`);
    return result;
  }

  afterCommit(fn: () => void): void {
    this.assertOpen();
    this.afterCommitHooks.push(fn);
  }

  /** Marks the transaction finished; returns the hooks to run if it committed. */
  finish(): Array<() => void> {
    this.closed = true;
    return this.afterCommitHooks.splice(0);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new StoreError(
        StoreErrorCode.failed,
        'the transaction has already ended; a `tx` must not be used after its callback returns',
      );
    }
  }
}

/**
 * Runs `fn` in a transaction over `conn`: BEGIN, body, optional hook, COMMIT; ROLLBACK on any error.
 * After-commit hooks run once COMMIT has returned; a hook that throws does not undo the commit.
 */
export async function runInTransaction<T>(
  owner: object,
  dialect: Dialect,
  conn: TxConnection,
  begin: string,
  fn: (tx: Tx) => Promise<T>,
  beforeCommit?: () => void | Promise<void>,
): Promise<T> {
  const tx = new ConnectionTx(dialect, conn);
  const marker: ActiveTx = { owner, tx, active: true };
  await conn.execute(begin);
  let result: T;
  try {
    result = await current.run(marker, async () => {
      const value = await fn(tx);
      if (beforeCommit !== undefined) await beforeCommit();
      return value;
    });
  } catch (error) {
    marker.active = false;
    tx.finish();
    await conn.execute('ROLLBACK').catch(() => undefined);
    throw error;
  }
  marker.active = false;
  const hooks = tx.finish();
  try {
    await conn.execute('COMMIT');
  } catch (error) {
    await conn.execute('ROLLBACK').catch(() => undefined);
    throw error;
  }
  for (const hook of hooks) {
    try {
      hook();
    } catch (error) {
      // A subscriber's failure must not turn a committed transaction into a reported failure.
      process.emitWarning(`an after-commit hook threw: ${String(error)}`, 'GarrisonWarning');
    }
  }
  return result;
}
