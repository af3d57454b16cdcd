import { GarrisonError } from '../errors.js';

/** Error codes the store raises. Each names what went wrong, not where. */
export const StoreErrorCode = {
  /** The store URL could not be understood (unknown scheme, bad syntax). */
  urlInvalid: 'store_url_invalid',
  /** No store is there, and the caller asked not to create one (`openStore(url, { create: false })`). */
  notFound: 'store_not_found',
  /** The database server could not be reached. Retryable. */
  unreachable: 'store_unreachable',
  /** The database file is not a database or is damaged. */
  corrupt: 'store_corrupt',
  /** The database cannot be written (read-only file, folder or server). */
  readOnly: 'store_read_only',
  /** The database holds migrations newer than this code knows. */
  schemaTooNew: 'schema_too_new',
  /** The database has not been migrated to what this code needs. */
  schemaBehind: 'schema_behind',
  /** `store.transaction` was called inside another transaction of the same store. */
  nestedTransaction: 'nested_transaction',
  /** A unique, foreign-key, not-null or check constraint rejected a write. */
  constraint: 'constraint_violation',
  /** The database was busy or a serialization conflict occurred. Retryable. */
  busy: 'store_busy',
  /** The disk is full. */
  full: 'store_full',
  /** The store was closed. */
  closed: 'store_closed',
  /** Any other database error. */
  failed: 'store_failed',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends GarrisonError {
  declare readonly code: StoreErrorCode;
  constructor(
    code: StoreErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
