/**
 * The one LISTEN connection of a PostgreSQL store, shared by all its channels. It is opened on the first
 * `listen`, re-opened (and every channel re-LISTENed) after the connection is lost, and closed with the
 * store. Wake-ups sent while it is down are lost — listeners must also look at the store on their own
 * schedule — but no channel is ever silently dropped.
 */
import pg from 'pg';
import { SerialQueue } from '../serial-queue.js';
import { mapPostgresError, type PgEndpoint } from './errors.js';

/**
 * A timer source for reconnect retries. The runtime's `Clock` fits; the store makes no timers itself.
 */
export interface StoreTimers {
  /** Calls `fn` once after `delayMs` ms. */
  setTimer(delayMs: number, fn: () => void): { cancel(): void };
}

export interface ListenerOptions {
  readonly config: pg.ClientConfig;
  readonly endpoint: PgEndpoint;
  /** Called for every notification on a channel this connection listens to. */
  readonly onNotification: (channel: string, payload: string, senderPid: number) => void;
  /** Called with errors nobody is waiting for: a lost connection, a failed background reconnect. */
  readonly onError: (error: unknown) => void;
  /**
   * Retries a failed reconnect after a backoff (100 ms doubling to 30 s). Without it a failed reconnect
   * is retried on the next `poke()` — the store pokes on every new pool connection and every
   * notify/listen.
   */
  readonly timers?: StoreTimers;
}

const MAX_RETRY_DELAY_MS = 30_000;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class PgListener {
  private client: pg.Client | undefined;
  /** Channels someone listens to. */
  private readonly wanted = new Set<string>();
  /** Channels the current connection has LISTENed to. */
  private readonly listening = new Set<string>();
  /** Connects, LISTENs and UNLISTENs run one at a time, in order. */
  private readonly queue = new SerialQueue();
  private reconnecting = false;
  private retryTimer: { cancel(): void } | undefined;
  private retryDelayMs = 0;
  private closed = false;

  constructor(private readonly options: ListenerOptions) {}

  /** Listens on `channel`; resolves once the server has confirmed the LISTEN. */
  add(channel: string): Promise<void> {
    this.wanted.add(channel);
    return this.queue.run(async () => {
      const client = await this.connected();
      await this.sync(client);
    });
  }

  /** Stops listening on `channel`. Never rejects: a failed UNLISTEN is reported through `onError`. */
  async remove(channel: string): Promise<void> {
    this.wanted.delete(channel);
    await this.queue.run(async () => {
      if (this.client === undefined) return;
      try {
        await this.sync(this.client);
      } catch (error) {
        // The connection is going; it will be re-opened without this channel.
        this.options.onError(error);
      }
    });
  }

  /** Reconnects now if the connection is down and channels are wanted. */
  poke(): void {
    if (this.client === undefined) this.reconnect();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    await this.queue.run(async () => {
      const client = this.client;
      this.client = undefined;
      this.listening.clear();
      await client?.end();
    });
  }

  private async connected(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client;
    if (this.closed) throw new Error('the listener is closed');
    const client = new pg.Client(this.options.config);
    client.on('notification', (msg) =>
      this.options.onNotification(msg.channel, msg.payload ?? '', msg.processId),
    );
    // Handlers are attached before connecting: an 'error' event without one would crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, undefined));
    try {
      await client.connect();
    } catch (error) {
      throw mapPostgresError(error, this.options.endpoint);
    }
    this.client = client;
    this.listening.clear();
    this.retryDelayMs = 0;
    return client;
  }

  private async sync(client: pg.Client): Promise<void> {
    try {
      for (const channel of this.wanted) {
        if (this.listening.has(channel)) continue;
        await client.query(`LISTEN ${quoteIdent(channel)}`);
        this.listening.add(channel);
      }
      for (const channel of [...this.listening]) {
        if (this.wanted.has(channel)) continue;
        await client.query(`UNLISTEN ${quoteIdent(channel)}`);
        this.listening.delete(channel);
      }
    } catch (error) {
      throw mapPostgresError(error, this.options.endpoint);
    }
  }

  private lost(client: pg.Client, error: unknown): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.listening.clear();
    if (this.closed) return;
    this.options.onError(
      error === undefined
        ? new Error(`the LISTEN connection to PostgreSQL at ${this.options.endpoint.hostPort} ended`)
        : mapPostgresError(error, this.options.endpoint),
    );
    // The socket is already dead and its error reported above; ending it only frees what is left.
    client.end().catch(() => undefined);
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed || this.reconnecting || this.client !== undefined || this.wanted.size === 0) return;
    this.reconnecting = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.queue
      .run(async () => {
        const client = await this.connected();
        await this.sync(client);
      })
      .then(
        () => {
          this.reconnecting = false;
        },
        (error: unknown) => {
          this.reconnecting = false;
          this.options.onError(error);
          this.scheduleRetry();
        },
      );
  }

  private scheduleRetry(): void {
    const timers = this.options.timers;
    if (timers === undefined || this.closed) return;
    this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 100), MAX_RETRY_DELAY_MS);
    this.retryTimer = timers.setTimer(this.retryDelayMs, () => {
      this.retryTimer = undefined;
      this.reconnect();
    });
  }
}
