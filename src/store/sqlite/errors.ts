import { StoreError, StoreErrorCode } from '../errors.js';

/** Maps a better-sqlite3 error to a typed store error that names the file. */
export function mapSqliteError(error: unknown, location: string): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError(StoreErrorCode.constraint, `a constraint rejected the write: ${message}`, {
      cause: error,
      details: { sqliteCode: code },
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(StoreErrorCode.busy, `the database ${location} is busy: ${message}`, {
      cause: error,
      retryable: true,
    });
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(
      StoreErrorCode.corrupt,
      `${location} is not a usable SQLite database (${message}); restore it from a backup or point ` +
        'the store at another file',
      { cause: error },
    );
  }
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    return new StoreError(
      StoreErrorCode.readOnly,
      `the folder of ${location} is read-only; SQLite needs to create its -wal and -shm files next to ` +
        'the database',
      { cause: error },
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new StoreError(StoreErrorCode.readOnly, `${location} cannot be written: ${message}`, {
      cause: error,
    });
  }
  if (code === 'SQLITE_FULL') {
    return new StoreError(StoreErrorCode.full, `the disk holding ${location} is full`, {
      cause: error,
      retryable: true,
    });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreError(StoreErrorCode.unreachable, `cannot open ${location}: ${message}`, {
      cause: error,
    });
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new StoreError(StoreErrorCode.failed, `an I/O error on ${location}: ${message}`, {
      cause: error,
      retryable: true,
    });
  }
  return new StoreError(StoreErrorCode.failed, `${location}: ${message}`, {
    cause: error,
    details: { sqliteCode: code },
  });
}
