/**
 * Idle keep-alive connections: the server keeps one open for `keepAliveTimeoutMs` (default 65 s, past
 * the 60 s idle timeouts of common clients and load balancers), so the client closes it first. A server
 * that closed after Node's 5 s default raced requests clients were sending on such a connection (they
 * failed with ECONNRESET, an ambiguous outcome); the short `headersTimeoutMs` does not cut an idle one.
 */
import { Agent, get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteAdapter } from '../support/stores.js';
import { startHarness, type Harness } from './support.js';

/** GET `path` through `agent`: the status and whether the request went on a connection used before. */
function fetchVia(agent: Agent, url: string, path: string): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = get(new URL(path, url), { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keep-alive connections of the API server', () => {
  let harness: Harness | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  afterEach(async () => {
    agent.destroy();
    await harness?.close();
    harness = undefined;
  });

  it('an idle connection outlives node’s 5 s default and a short headers timeout, and serves the next request', async () => {
    harness = await startHarness(sqliteAdapter, { headersTimeoutMs: 1000, timeoutCheckIntervalMs: 100 });
    expect(await fetchVia(agent, harness.url, '/healthz')).toEqual({ status: 200, reused: false });
    await idle(6000);
    expect(await fetchVia(agent, harness.url, '/healthz')).toEqual({ status: 200, reused: true });
  });

  it('keepAliveTimeoutMs sets how long the server keeps an idle connection', async () => {
    harness = await startHarness(sqliteAdapter, { keepAliveTimeoutMs: 300 });
    expect(await fetchVia(agent, harness.url, '/healthz')).toEqual({ status: 200, reused: false });
    await idle(1500);
    expect(await fetchVia(agent, harness.url, '/healthz')).toEqual({ status: 200, reused: false });
  });
});
