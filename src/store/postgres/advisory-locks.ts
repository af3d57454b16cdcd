/**
 * `tryLock` on PostgreSQL: session advisory locks on one dedicated connection of the store (not a pool
 * client, which the pool could recycle). The server releases them when that connection ends, so a node
 * that dies — process killed, network gone, store closed — loses its locks and another node can take them.
 * The connection is opened on the first `tryLock` and kept until the store closes.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { HeldLock } from '../held-lock.js';
import { SerialQueue } from '../serial-queue.js';
import { mapPostgresError, type PgEndpoint } from './errors.js';

export interface AdvisoryLocksOptions {
  readonly config: pg.ClientConfig;
  readonly endpoint: PgEndpoint;
  /** Lock keys are namespaced by schema: stores on other schemas never contend. */
  readonly schema: string;
  /** Called with errors nobody is waiting for (the lock connection lost). */
  readonly onError: (error: unknown) => void;
}

/** A stable 64-bit advisory lock key for `name` in `schema`. */
export function advisoryLockKey(schema: string, name: string): string {
  return createHash('sha256').update(`garrison.lock:${schema}:${name}`).digest().readBigInt64BE(0).toString();
}

export class PgAdvisoryLocks {
  private client: pg.Client | undefined;
  private readonly held = new Map<string, HeldLock>();
  /** One query at a time on the one connection. */
  private readonly queue = new SerialQueue();
  private closed = false;

  constructor(private readonly options: AdvisoryLocksOptions) {}

  tryLock(name: string): Promise<HeldLock | undefined> {
    return this.queue.run(async () => {
      if (this.held.has(name)) return undefined;
      const client = await this.connected();
      const rows = await this.query<{ ok: boolean }>(
        client,
        'SELECT pg_try_advisory_lock($1::bigint) AS ok',
        [advisoryLockKey(this.options.schema, name)],
      );
      if (rows[0]?.ok !== true) return undefined;
      const lock = new HeldLock(name, (l) => this.release(l));
      this.held.set(name, lock);
      return lock;
    });
  }

  /** Closes the connection; every held lock is lost (and the server frees it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.run(async () => {
      const client = this.client;
      this.dropConnection();
      await client?.end().catch(() => undefined);
    });
  }

  private release(lock: HeldLock): Promise<void> {
    return this.queue.run(async () => {
      if (this.held.get(lock.name) !== lock) return;
      this.held.delete(lock.name);
      const client = this.client;
      if (client === undefined) return;
      try {
        await this.query(client, 'SELECT pg_advisory_unlock($1::bigint)', [
          advisoryLockKey(this.options.schema, lock.name),
        ]);
      } catch (error) {
        // The connection is in doubt: ending it frees every lock it held on the server.
        this.options.onError(error);
        this.dropConnection();
        await client.end().catch(() => undefined);
      }
    });
  }

  private async connected(): Promise<pg.Client> {
    if (this.closed) throw mapPostgresError(new Error('Connection terminated'), this.options.endpoint);
    if (this.client !== undefined) return this.client;
    const client = new pg.Client(this.options.config);
    const lost = (error?: unknown) => {
      if (this.client !== client) return;
      if (error !== undefined) this.options.onError(mapPostgresError(error, this.options.endpoint));
      this.dropConnection();
    };
    client.on('error', (error) => lost(error));
    client.on('end', () => lost());
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw mapPostgresError(error, this.options.endpoint);
    }
    this.client = client;
    return client;
  }

  /** Forgets the connection; the locks it held are lost. */
  private dropConnection(): void {
    this.client = undefined;
    const locks = [...this.held.values()];
    this.held.clear();
    for (const lock of locks) lock.lose();
  }

  private async query<T>(client: pg.Client, sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (error) {
      throw mapPostgresError(error, this.options.endpoint);
    }
  }
}
