/**
 * Named crash points: a store wrapper that kills its own process with SIGKILL at a chosen moment of the
 * workflow engine's life, the n-th time that moment comes. The point is given as `<point>:<n>` in the
 * `GARRISON_CHAOS_CRASH` environment variable:
 *
 * - `effect`: after a step's external effect, before its result is journaled (the step calls `reached`);
 * - `journal`: after a journal write with step entries has committed, before the engine hears of it;
 * - `claim`: after a run was claimed (taken over under a new fence), before it starts executing;
 * - `commit`: inside the journal write's transaction — on SQLite before COMMIT, on PostgreSQL with the
 *   flush statement sent and its answer not yet read (it may or may not have committed).
 *
 * A `crash` line naming the point is appended to the ledger just before the kill.
 */
import type { Store, Tx } from '../../../src/store/index.js';
import type { Log } from './ledger.js';

export type CrashPoint = 'effect' | 'journal' | 'claim' | 'commit';

export interface CrashPoints {
  /** The store to give the engine: the same store, with the kill at the chosen point. */
  readonly store: Store;
  /** Called by the workflow at the `effect` point. */
  reached(point: CrashPoint): void;
}

const isClaim = (sql: string) => sql.includes('fence = fence + 1');
const isSqliteJournal = (sql: string) => sql.startsWith('INSERT INTO garrison_workflow_steps');
const isPostgresJournal = (sql: string, params: readonly unknown[] | undefined) =>
  sql.includes('garrison_workflow_flush') && params?.[2] !== null && params?.[2] !== undefined;

export function crashPoints(store: Store, spec: string | undefined, log: Log): CrashPoints {
  const [point, nth] = (spec ?? '').split(':');
  let count = 0;
  const reached = (p: CrashPoint) => {
    if (p !== point || ++count !== Number(nth)) return;
    log({ e: 'crash', point: p });
    process.kill(process.pid, 'SIGKILL');
  };
  if (spec === undefined || spec === '') return { store, reached: () => undefined };

  /** Runs `fn` with a tx that notes which kinds of statement it ran. */
  const watched = async <T>(tx: Tx, fn: (tx: Tx) => Promise<T>, seen: Set<string>): Promise<T> => {
    const note = (sql: string) => {
      if (isClaim(sql)) seen.add('claim');
      if (isSqliteJournal(sql)) seen.add('journal');
    };
    const proxy: Tx = {
      dialect: tx.dialect,
      query: (sql, params) => (note(sql), tx.query(sql, params)),
      execute: (sql, params) => (note(sql), tx.execute(sql, params)),
      savepoint: (inner) => tx.savepoint((t) => watched(t, inner, seen)),
      afterCommit: (f) => tx.afterCommit(f),
    };
    const result = await fn(proxy);
    if (seen.has('journal')) reached('commit');
    return result;
  };
  const write = async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const seen = new Set<string>();
    const result = await store.write((tx) => watched(tx, fn, seen));
    if (seen.has('claim')) reached('claim');
    if (seen.has('journal')) reached('journal');
    return result;
  };
  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<T[]> => {
    const postgresJournal = isPostgresJournal(sql, params);
    const pending = store.query<T>(sql, params as Parameters<Store['query']>[1]);
    // The statement is on its way; die before its answer is read.
    if (postgresJournal && point === 'commit') setImmediate(() => reached('commit'));
    const rows = await pending;
    if (postgresJournal) reached('journal');
    return rows;
  };
  const wrapped: Store = {
    dialect: store.dialect,
    capabilities: store.capabilities,
    query,
    execute: (sql, params) => store.execute(sql, params),
    transaction: (fn, options) => store.transaction(fn, options),
    write,
    migrate: () => store.migrate(),
    status: () => store.status(),
    notify: (channel, payload) => store.notify(channel, payload),
    listen: (channel, fn) => store.listen(channel, fn),
    tryLock: (name) => store.tryLock(name),
    close: () => store.close(),
  };
  return { store: wrapped, reached };
}
