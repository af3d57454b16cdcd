/**
 * Maps what the pg driver throws (server errors with a SQLSTATE, socket errors, driver messages) to typed
 * store errors that name the server. Messages never carry the password: they are built from the host and
 * port and the server's own text, which does not echo it.
 */
import { StoreError, StoreErrorCode } from '../errors.js';

/** Where the server is, for messages. */
export interface PgEndpoint {
  /** `host:port` (or the socket folder and port). */
  readonly hostPort: string;
  /** The connection URL with its password replaced by `***`. */
  readonly redacted: string;
  /** How long a connection attempt may take, in ms. */
  readonly connectTimeoutMs: number;
}

/** `host:port` of a postgres:// URL, with libpq's defaults (localhost, 5432) and `?host=`/`?port=`. */
export function endpointOf(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const host = url.searchParams.get('host') ?? (url.hostname === '' ? 'localhost' : url.hostname);
    const port = url.searchParams.get('port') ?? (url.port === '' ? '5432' : url.port);
    return `${host}:${port}`;
  } catch {
    return 'an unparseable address';
  }
}

const networkReasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running and listening on that port?)',
  ENOTFOUND: 'the host name could not be resolved',
  EAI_AGAIN: 'the host name could not be resolved (DNS is not answering)',
  ETIMEDOUT: 'the connection attempt timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the server reset the connection',
  ECONNABORTED: 'the connection was aborted',
  EPIPE: 'the connection was closed by the server',
  ENOENT: 'no server socket at that path',
};

/** pg raises these as plain Errors when a connection times out or dies. */
const lostConnectionMessages = [
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

function systemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect reports one error per address tried.
  if (error instanceof AggregateError) return systemCode(error.errors[0]);
  return undefined;
}

function isSqlState(code: string | undefined): code is string {
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code);
}

/** True when `error` came from the server (it has a SQLSTATE), not from the socket or the driver. */
export function isServerError(error: unknown): boolean {
  return isSqlState(systemCode(error));
}

/** Maps `error` to a `StoreError`. Errors that did not come from the driver are returned unchanged. */
export function mapPostgresError(error: unknown, endpoint: PgEndpoint): unknown {
  if (error instanceof StoreError) return error;
  const code = systemCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const at = `PostgreSQL at ${endpoint.hostPort}`;

  if (code !== undefined && networkReasons[code] !== undefined) {
    return new StoreError(StoreErrorCode.unreachable, `cannot reach ${at}: ${networkReasons[code]}`, {
      cause: error,
      retryable: true,
      details: { endpoint: endpoint.hostPort, errno: code },
    });
  }
  if (message === 'timeout expired' || message.includes('connection timeout')) {
    return new StoreError(
      StoreErrorCode.unreachable,
      `cannot reach ${at}: no answer within ${endpoint.connectTimeoutMs} ms`,
      { cause: error, retryable: true, details: { endpoint: endpoint.hostPort } },
    );
  }
  if (lostConnectionMessages.includes(message)) {
    return new StoreError(StoreErrorCode.unreachable, `the connection to ${at} was lost: ${message}`, {
      cause: error,
      retryable: true,
      details: { endpoint: endpoint.hostPort },
    });
  }
  if (!isSqlState(code)) return error;

  const details = { sqlState: code, endpoint: endpoint.hostPort };
  const options = { cause: error, details };
  if (code === '28P01' || code === '28000') {
    return new StoreError(
      StoreErrorCode.unreachable,
      `authentication failed for ${at}: ${message}; check the user name and password in the store URL`,
      options,
    );
  }
  if (code.startsWith('23')) {
    return new StoreError(StoreErrorCode.constraint, `a constraint rejected the write: ${message}`, {
      cause: error,
      details: { ...details, constraint: (error as { constraint?: unknown }).constraint },
    });
  }
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return new StoreError(StoreErrorCode.busy, `${at} is busy (${message}); retry the transaction`, {
      ...options,
      retryable: true,
    });
  }
  if (code === '53300') {
    return new StoreError(StoreErrorCode.busy, `${at} has no free connection slots: ${message}`, {
      ...options,
      retryable: true,
    });
  }
  if (code === '53100') {
    return new StoreError(StoreErrorCode.full, `the disk of ${at} is full: ${message}`, {
      ...options,
      retryable: true,
    });
  }
  if (code === '25006') {
    return new StoreError(StoreErrorCode.readOnly, `${at} accepts no writes: ${message}`, options);
  }
  if (code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08')) {
    return new StoreError(StoreErrorCode.unreachable, `the connection to ${at} was lost: ${message}`, {
      ...options,
      retryable: true,
    });
  }
  return new StoreError(StoreErrorCode.failed, `${at}: ${message}`, options);
}
