/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/**
 * `POST /v1/coordination/consensus` and `/barriers`: capability-wide rounds started, answered and read
 * through the API (write scope, zod-validated, in the OpenAPI document); bad input changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

describe.each(adapters)('capability-wide rounds through the API on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function seeded(): Promise<Harness> {
    const x = await startHarness(adapter);
    h = x;
    const registry = createRegistry({ store: x.store, clock: x.clock });
    for (const id of ['r-1', 'r-2', 'r-3'])
      await registry.register({ id, capabilities: ['review'], health: 'healthy', node: 'n1', resources: {} });
    await registry.register({
      id: 'r-4',
      capabilities: ['review'],
      health: 'unhealthy',
      node: 'n1',
      resources: {},
    });
    return x;
  }

  it('starts a vote among the healthy agents with the capability, takes their votes and reads the decision', async () => {
    const x = await seeded();
    const started = await call(x.url, 'POST', '/v1/coordination/consensus', {
      capability: 'review',
      topic: 'ship-v2',
      options: ['yes', 'no'],
      timeoutMs: 60_000,
      id: 'ship',
    });
    expect(started.status).toBe(201);
    expect(started.json.proposal).toMatchObject({ id: 'ship', voters: ['r-1', 'r-2', 'r-3'], quorum: 2 });
    const outsider = await call(x.url, 'POST', '/v1/coordination/consensus/ship/votes', {
      voter: 'r-4',
      choice: 'yes',
    });
    expect(outsider.status).toBe(409);
    expect(outsider.json.error.code).toBe('not_a_voter');
    await call(x.url, 'POST', '/v1/coordination/consensus/ship/votes', { voter: 'r-1', choice: 'yes' });
    const last = await call(x.url, 'POST', '/v1/coordination/consensus/ship/votes', {
      voter: 'r-2',
      choice: 'yes',
    });
    expect(last.json.proposal).toMatchObject({ status: 'decided', decision: 'yes' });
    const read = await call(x.url, 'GET', '/v1/coordination/consensus/ship');
    expect(read.json.proposal).toMatchObject({ status: 'decided', capability: 'review', absent: [] });
    expect((await call(x.url, 'GET', '/v1/coordination/consensus/nope')).status).toBe(404);
  });

  it('creates a barrier for the agents with the capability, records arrivals and reads it', async () => {
    const x = await seeded();
    const created = await call(x.url, 'POST', '/v1/coordination/barriers', {
      capability: 'review',
      name: 'phase-2',
    });
    expect(created.status).toBe(201);
    expect(created.json.barrier).toMatchObject({
      participants: ['r-1', 'r-2', 'r-3'],
      parties: 3,
      released: false,
    });
    for (const p of ['r-1', 'r-2'])
      await call(x.url, 'POST', '/v1/coordination/barriers/phase-2/arrivals', { participant: p });
    const last = await call(x.url, 'POST', '/v1/coordination/barriers/phase-2/arrivals', {
      participant: 'r-3',
    });
    expect(last.json.barrier).toMatchObject({ released: true, arrived: 3 });
    expect((await call(x.url, 'GET', '/v1/coordination/barriers/phase-2')).json.barrier.released).toBe(true);
  });

  it('refuses bad input with 422, nobody to take part with 409, and writes nothing', async () => {
    const x = await seeded();
    const bad = await call(x.url, 'POST', '/v1/coordination/consensus', {
      capability: 'review',
      topic: 't',
      options: [],
      timeoutMs: 1000,
      id: 'p',
    });
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe('invalid_input');
    const extra = await call(x.url, 'POST', '/v1/coordination/barriers', {
      capability: 'review',
      name: 'b',
      x: 1,
    });
    expect(extra.status).toBe(422);
    const nobody = await call(x.url, 'POST', '/v1/coordination/barriers', {
      capability: 'nobody',
      name: 'b',
    });
    expect(nobody.status).toBe(409);
    expect(nobody.json.error.code).toBe('no_participants');
    expect((await call(x.url, 'GET', '/v1/coordination/consensus/p')).status).toBe(404);
    expect((await call(x.url, 'GET', '/v1/coordination/barriers/b')).status).toBe(404);
  });

  it('are in the OpenAPI document', async () => {
    const x = await seeded();
    const doc = await call(x.url, 'GET', '/openapi.json');
    const paths = Object.keys(doc.json.paths as object);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/coordination/consensus',
        '/v1/coordination/consensus/{id}/votes',
        '/v1/coordination/consensus/{id}',
        '/v1/coordination/barriers',
        '/v1/coordination/barriers/{name}/arrivals',
        '/v1/coordination/barriers/{name}',
      ]),
    );
  });
});
