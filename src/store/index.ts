export type {
  Dialect,
  ExecResult,
  Executor,
  MigrationInfo,
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
} from './types.js';
export { StoreError, StoreErrorCode, isStoreError } from './errors.js';
export { openStore, type OpenStoreOptions } from './open.js';
export { DEFAULT_STORE_URL, parseStoreUrl, redact, type ParsedStoreUrl } from './url.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteSynchronous } from './sqlite/sqlite-store.js';
// Types only: the pg driver is loaded when a postgres:// store is opened, never before.
export type { PostgresStore, PostgresStoreOptions, StoreTimers } from './postgres/postgres-store.js';
export { latestMigration, loadMigrations } from './migrations.js';
export { parseJson, toJson } from './json.js';
export {
  bindList,
  inListSql,
  listOperand,
  listParam,
  type ListKind,
  type ListValues,
} from './sql/bind-list.js';
export {
  PAGE_DEFAULT_LIMIT,
  PAGE_MAX_LIMIT,
  decodePageCursor,
  encodePageCursor,
  pageLimitSchema,
  type PageKey,
} from './sql/page-cursor.js';
