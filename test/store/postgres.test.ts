/**
 * The PostgreSQL adapter's own behaviour: servers it cannot reach or log into, schemas sharing one
 * server, the pool, errors mapped from the server, and connections the server drops.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock.js';
import { latestMigration, openStore, parseStoreUrl, type Store } from '../../src/store/index.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import { postgresAdapter } from '../support/stores.js';
import { createItems, deferred, labels, OpenStores, rejectionOf } from './helpers.js';

/** Adapter options for a fresh schema on the test server, and the store URL naming the same schema. */
function freshOptions(overrides: Partial<PostgresStoreOptions> = {}): {
  options: PostgresStoreOptions;
  url: string;
} {
  const url = postgresAdapter.freshUrl();
  const parsed = parseStoreUrl(url);
  if (parsed.kind !== 'postgres' || parsed.schema === undefined)
    throw new Error(`not a postgres URL: ${url}`);
  const options = {
    connectionString: parsed.connectionString,
    redacted: parsed.redacted,
    schema: parsed.schema,
    ...overrides,
  };
  return { options, url };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A TCP proxy to the test server that a test can take down (dropping every connection) and bring back. */
class Proxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}

describe('PostgreSQL adapter', () => {
  const stores = new OpenStores();
  afterEach(() => stores.closeAll());

  async function backendPid(store: Store): Promise<number> {
    const rows = await store.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return rows[0]?.pid ?? -1;
  }

  async function terminate(pid: number): Promise<void> {
    const admin = await stores.at(postgresAdapter.freshUrl());
    expect(await admin.query('SELECT pg_terminate_backend($1) AS done', [pid])).toEqual([{ done: true }]);
  }

  describe('a server it cannot reach', () => {
    it('a port nobody listens on gives store_unreachable naming host:port', async () => {
      const port = await freePort();
      const error = await rejectionOf(openStore(`postgres://garrison:pw@127.0.0.1:${port}/db?schema=app`));
      expect(error).toMatchObject({ code: 'store_unreachable', retryable: true });
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(error.message).toContain('connection refused');
    });

    it('a host name that does not resolve gives store_unreachable naming host:port', async () => {
      const error = await rejectionOf(openStore('postgres://u:pw@garrison-no-such-host.invalid/db'));
      expect(error.code).toBe('store_unreachable');
      expect(error.message).toContain('garrison-no-such-host.invalid:5432');
    });

    it('a server that never answers gives store_unreachable after the connect timeout', async () => {
      const sockets: Socket[] = [];
      const silent: Server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      try {
        const error = await rejectionOf(
          PostgresStore.open({
            connectionString: `postgres://u:pw@127.0.0.1:${port}/db`,
            redacted: `postgres://u:***@127.0.0.1:${port}/db`,
            schema: 'app',
            connectTimeoutMs: 200,
          }),
        );
        expect(error).toMatchObject({ code: 'store_unreachable', retryable: true });
        expect(error.message).toContain(`127.0.0.1:${port}: no answer within 200 ms`);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('a wrong password gives a clear authentication error that does not contain the password', async (ctx) => {
      const url = new URL(postgresAdapter.freshUrl());
      if (url.password === '') ctx.skip();
      const wrong = 'Wr0ng-Pa55word';
      url.password = wrong;
      const error = await rejectionOf(openStore(url.toString()));
      expect(error.code).toBe('store_unreachable');
      expect(error.message).toContain('authentication failed');
      expect(error.message).toContain(`${url.hostname}:${url.port}`);
      const visible = JSON.stringify({
        message: error.message,
        stack: error.stack,
        details: (error as { details?: unknown }).details,
      });
      expect(visible).not.toContain(wrong);
    });
  });

  describe('schemas', () => {
    it('two schemas on one server are isolated: tables, rows and migrations', async () => {
      const { store: a, url: urlA } = await stores.fresh(postgresAdapter);
      const { store: b, url: urlB } = await stores.fresh(postgresAdapter);
      await createItems(a);
      await createItems(b);
      await a.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['in a']);
      await b.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['in b']);
      expect(await labels(a)).toEqual(['in a']);
      expect(await labels(b)).toEqual(['in b']);
      const schemaA = new URL(urlA).searchParams.get('schema');
      const schemaB = new URL(urlB).searchParams.get('schema');
      expect(await a.query('SHOW search_path')).toEqual([{ search_path: schemaA }]);
      expect((await a.status()).location).toContain(`schema=${schemaA}`);
      await a.execute('DELETE FROM garrison_migrations WHERE id = $1', [latestMigration('postgres')]);
      expect((await a.status()).pending).toEqual([latestMigration('postgres')]);
      expect((await b.status()).pending).toEqual([]);
      expect(schemaA).not.toBe(schemaB);
    });

    it('opening without migrating creates nothing; migrating creates the schema', async () => {
      const { options, url } = freshOptions();
      const store = stores.add(await PostgresStore.open({ ...options, migrate: false }));
      const schemaExists = async () =>
        (await store.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [options.schema]))
          .length;
      expect(await schemaExists()).toBe(0);
      expect((await store.status()).version).toBe(0);
      await store.migrate();
      expect(await schemaExists()).toBe(1);
      expect(url).toContain(options.schema);
    });
  });

  it('the pool holds at most the configured number of connections', async () => {
    const url = postgresAdapter.freshUrl() + '&pool=2';
    const store = await stores.at(url);
    const pids = await Promise.all(
      Array.from({ length: 8 }, () =>
        store.transaction(async (tx) => {
          const rows = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await new Promise((resolve) => setImmediate(resolve));
          return rows[0]?.pid;
        }),
      ),
    );
    expect(new Set(pids).size).toBeLessThanOrEqual(2);
  });

  it('BIGINT parsing is the store’s own: pg’s global type parsers are left alone', async () => {
    const { store } = await stores.fresh(postgresAdapter);
    expect(await store.query('SELECT 9007199254740993::bigint AS big, 42::bigint AS small')).toEqual([
      { big: 9007199254740993n, small: 42 },
    ]);
    const globalInt8 = pg.types.getTypeParser(20, 'text') as (text: string) => unknown;
    expect(globalInt8('42')).toBe('42');
    const globalJsonb = pg.types.getTypeParser(3802, 'text') as (text: string) => unknown;
    expect(globalJsonb('{"a":1}')).toEqual({ a: 1 });
  });

  describe('server errors', () => {
    it('waiting too long for a row lock gives store_busy, retryable', async () => {
      const { store } = await stores.fresh(postgresAdapter);
      await createItems(store);
      await store.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['locked']);
      const holding = deferred();
      const release = deferred();
      const holder = store.transaction(async (tx) => {
        await tx.query('SELECT id FROM items WHERE id = 1 FOR UPDATE');
        holding.resolve();
        await release.promise;
      });
      await holding.promise;
      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.execute("SET LOCAL lock_timeout = '20ms'");
          await tx.query('SELECT id FROM items WHERE id = 1 FOR UPDATE');
        }),
      );
      release.resolve();
      await holder;
      expect(error).toMatchObject({ code: 'store_busy', retryable: true });
      expect(error.message).toContain('retry');
    });

    it('a write in a read-only transaction gives store_read_only', async () => {
      const { store } = await stores.fresh(postgresAdapter);
      await createItems(store);
      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.execute('SET TRANSACTION READ ONLY');
          await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['x']);
        }),
      );
      expect(error.code).toBe('store_read_only');
    });

    it('any other server error gives store_failed with the server’s message and SQLSTATE', async () => {
      const { store } = await stores.fresh(postgresAdapter);
      const error = await rejectionOf(store.query('SELECT * FROM no_such_table'));
      expect(error).toMatchObject({ code: 'store_failed', details: { sqlState: '42P01' } });
      expect(error.message).toContain('relation "no_such_table" does not exist');
    });
  });

  describe('connections the server drops', () => {
    it('a transaction whose connection dies fails with store_unreachable, writes nothing, and the store goes on', async () => {
      const { store } = await stores.fresh(postgresAdapter);
      await createItems(store);
      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['lost']);
          await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
        }),
      );
      expect(error).toMatchObject({ code: 'store_unreachable', retryable: true });
      await store.transaction((tx) => tx.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['after']));
      expect(await labels(store)).toEqual(['after']);
    });

    it('an idle pooled connection dropped by the server is reported, not thrown, and replaced', async () => {
      const dropped = deferred<unknown>();
      const { options } = freshOptions({ onBackgroundError: (error) => dropped.resolve(error) });
      const store = stores.add(await PostgresStore.open(options));
      const pid = await backendPid(store);
      await terminate(pid);
      expect(await dropped.promise).toMatchObject({ code: 'store_unreachable' });
      expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(await backendPid(store)).not.toBe(pid);
    });

    it('a lost LISTEN connection is re-opened and every channel heard again', async () => {
      const lost = deferred<unknown>();
      const { options, url } = freshOptions({ onBackgroundError: (error) => lost.resolve(error) });
      const store = stores.add(await PostgresStore.open(options));
      const sender = await stores.at(url, { migrate: false });
      const heard = deferred<string>();
      await store.listen('jobs', (payload) => heard.resolve(payload));

      const listeners = await sender.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE query = $1',
        [`LISTEN "${options.schema}.jobs"`],
      );
      expect(listeners).toHaveLength(1);
      await terminate(listeners[0]?.pid ?? -1);
      expect(await lost.promise).toMatchObject({ code: 'store_unreachable' });
      // Queued behind the reconnect: once this resolves, the connection is back and listening.
      await store.listen('other', () => undefined);
      await sender.notify('jobs', 'after the reconnect');
      expect(await heard.promise).toBe('after the reconnect');
    });
  });

  it('while the server is away the LISTEN connection is retried on the clock, and comes back', async () => {
    const { options, url } = freshOptions();
    const target = new URL(options.connectionString);
    const proxy = new Proxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    try {
      const viaProxy = new URL(options.connectionString);
      viaProxy.port = String(proxy.port);
      const clock = new VirtualClock();
      const refused = deferred<unknown>();
      const store = stores.add(
        await PostgresStore.open({
          ...options,
          connectionString: viaProxy.toString(),
          clock,
          onBackgroundError: (error) => {
            if ((error as { details?: { errno?: string } }).details?.errno === 'ECONNREFUSED')
              refused.resolve(error);
          },
        }),
      );
      const sender = await stores.at(url, { migrate: false });
      const heard: string[] = [];
      const back = deferred();
      await store.listen('jobs', (payload) => {
        heard.push(payload);
        if (payload === 'back') back.resolve();
      });

      await proxy.stop();
      // The connection drops, the immediate reconnect is refused, and a retry waits on the clock.
      await refused.promise;
      expect(clock.pendingTimers).toBe(1);
      await sender.notify('jobs', 'while away');

      await proxy.start();
      await clock.advance(100);
      // Queued behind the retry: once this resolves, the connection is back and listening.
      await store.listen('probe', () => undefined);
      await sender.notify('jobs', 'back');
      await back.promise;
      // A wake-up sent while the connection was down is lost; listeners must not rely on every one.
      expect(heard).toEqual(['back']);
    } finally {
      await stores.closeAll();
      await proxy.stop();
    }
  });

  it('channel names longer than an identifier still reach other stores', async () => {
    const { store, url } = await stores.fresh(postgresAdapter);
    const receiver = await stores.at(url, { migrate: false });
    const channel = `queue:${'x'.repeat(120)}`;
    const heard = deferred<string>();
    await receiver.listen(channel, (payload) => heard.resolve(payload));
    await store.notify(channel, 'long');
    expect(await heard.promise).toBe('long');
  });
});
