/**
 * The pg connection settings every connection of a store shares, and the wrapper that runs Garrison's SQL
 * on a pool or on one checked-out client with typed errors.
 */
import pg from 'pg';
import type { ExecResult, SqlValue } from '../types.js';
import type { TxConnection } from '../transaction.js';
import { isServerError, mapPostgresError, type PgEndpoint } from './errors.js';

const INT8_OID = 20;
const JSON_OID = 114;
const JSONB_OID = 3802;

/** BIGINT as a JS number (timestamps are epoch ms); a value past 2^53 stays exact as a bigint. */
function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

const asText = (text: string): string => text;

/**
 * Type parsers for this store's connections only: pg's global parsers stay untouched, so other users of
 * pg in the process see what they expect. JSON and JSONB come back as their text, as a TEXT column does
 * on SQLite, so `parseJson` reads both alike (pg's own parsing would turn the JSON string `"x"` into a
 * bare `x` that no longer parses).
 */
const storeTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format) as unknown;
    if (oid === INT8_OID) return parseInt8;
    if (oid === JSON_OID || oid === JSONB_OID) return asText;
    return pg.types.getTypeParser(oid, 'text') as unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface ConnectionSettings {
  readonly connectionString: string;
  /** The schema every connection works in. */
  readonly schema: string;
  /** How long a connection attempt may take, in ms. */
  readonly connectTimeoutMs: number;
}

/**
 * The pg client configuration: the schema through `search_path` (merged with any `options` the URL
 * carries — pg lets the URL override the config, so it is taken out of the URL), per-store BIGINT
 * parsing, and a connect timeout.
 */
export function clientConfig(settings: ConnectionSettings): pg.ClientConfig {
  const url = new URL(settings.connectionString);
  const urlOptions = url.searchParams.get('options');
  url.searchParams.delete('options');
  const searchPath = `-c search_path=${settings.schema}`;
  return {
    connectionString: url.toString(),
    options: urlOptions === null ? searchPath : `${urlOptions} ${searchPath}`,
    types: storeTypes,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // A URL's own application_name wins (pg lets the URL override the config).
    application_name: 'garrison',
  };
}

/**
 * A pool whose clients time out on connect but whose waiters for a free client do not: pg applies
 * `connectionTimeoutMillis` to both, and a busy pool is backpressure, not an unreachable server.
 */
export function createPool(settings: ConnectionSettings, size: number): pg.Pool {
  const config = clientConfig(settings);
  class TimedClient extends pg.Client {
    constructor(options?: pg.ClientConfig) {
      super({ ...options, connectionTimeoutMillis: settings.connectTimeoutMs });
    }
  }
  const { connectionTimeoutMillis: _clientOnly, ...poolConfig } = config;
  return new pg.Pool({ ...poolConfig, max: size, Client: TimedClient });
}

function bind(params: readonly SqlValue[] | undefined): unknown[] | undefined {
  // No boolean columns in Garrison's schema: true/false bind as 1/0 on both dialects.
  return params?.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
}

/** Runs SQL on a pool or a checked-out client; every driver error comes back as a `StoreError`. */
export class PgConnection implements TxConnection {
  /** Set when the client's state is unknown (socket error, failed ROLLBACK): it must not be reused. */
  broken = false;

  constructor(
    private readonly target: pg.Pool | pg.PoolClient,
    private readonly endpoint: PgEndpoint,
  ) {}

  async query<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const result = await this.run(sql, params);
    return result.rows as T[];
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<ExecResult> {
    const result = await this.run(sql, params);
    return { rowCount: result.rowCount ?? 0 };
  }

  /** Runs a multi-statement script (no parameters: the simple query protocol allows several). */
  async script(sql: string): Promise<void> {
    await this.run(sql, undefined);
  }

  private async run(sql: string, params: readonly SqlValue[] | undefined): Promise<pg.QueryResult> {
    try {
      return await this.target.query(sql, bind(params));
    } catch (error) {
      if (!isServerError(error) || sql === 'ROLLBACK') this.broken = true;
      throw mapPostgresError(error, this.endpoint);
    }
  }
}
