import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentsQuery } from '../../src/registry/agent-reads.js';
import { InvalidCriteriaError, type Criterion } from '../../src/registry/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters, itOnPostgres } from '../support/stores.js';
import { agent, ids, openRegistry, rejectionOf, type RegistryFixture } from './support/fixtures.js';

describe.each(adapters)('registry queries on $name', (adapter) => {
  let f: RegistryFixture;
  beforeEach(async () => {
    f = await openRegistry(adapter);
    await f.registry.registerMany([
      agent('a1', {
        type: 'worker',
        capabilities: ['compute', 'gpu'],
        node: 'n1',
        resources: { memory_available: 4096, load: 0.2 },
        metadata: { region: { zone: 'eu-1', rank: 3 }, tags: ['fast', 7, true], version: '10', spot: true },
      }),
      agent('a2', {
        type: 'worker',
        capabilities: ['compute'],
        node: 'n2',
        health: 'degraded',
        resources: { memory_available: 512, load: 0.9 },
        metadata: { region: { zone: 'us-1', rank: 1 }, tags: ['slow'], version: 10 },
      }),
      agent('a3', {
        capabilities: ['storage'],
        node: 'n1',
        health: 'unhealthy',
        resources: { memory_available: 2048 },
        metadata: { region: 'flat', note: null },
      }),
    ]);
  });
  afterEach(async () => {
    await f.store.close();
  });

  const q = async (...criteria: Criterion[]) => ids(await f.registry.query(criteria));

  it('criteria are ANDed; no criteria means every agent', async () => {
    expect(await q()).toEqual(['a1', 'a2', 'a3']);
    expect(
      await q({ path: 'node', op: 'eq', value: 'n1' }, { path: 'health', op: 'eq', value: 'healthy' }),
    ).toEqual(['a1']);
  });

  it('eq on capabilities is membership', async () => {
    expect(await q({ path: 'capabilities', op: 'eq', value: 'compute' })).toEqual(['a1', 'a2']);
    expect(await q({ path: 'capabilities', op: 'neq', value: 'compute' })).toEqual(['a3']);
    expect(await q({ path: 'capabilities', op: 'in', value: ['gpu', 'storage'] })).toEqual(['a1', 'a3']);
    expect(await q({ path: 'capabilities', op: 'not_in', value: ['gpu', 'storage'] })).toEqual(['a2']);
  });

  it('eq on a metadata array is membership, of the same type only', async () => {
    expect(await q({ path: 'metadata.tags', op: 'eq', value: 'fast' })).toEqual(['a1']);
    expect(await q({ path: 'metadata.tags', op: 'eq', value: 7 })).toEqual(['a1']);
    expect(await q({ path: 'metadata.tags', op: 'eq', value: '7' })).toEqual([]);
    expect(await q({ path: 'metadata.tags', op: 'eq', value: true })).toEqual(['a1']);
    expect(await q({ path: 'metadata.tags', op: 'in', value: ['slow', 'none'] })).toEqual(['a2']);
  });

  it('a nested metadata path compares the value there', async () => {
    expect(await q({ path: 'metadata.region.zone', op: 'eq', value: 'eu-1' })).toEqual(['a1']);
    expect(await q({ path: 'metadata.region.rank', op: 'gte', value: 1 })).toEqual(['a1', 'a2']);
    expect(await q({ path: 'metadata.region.rank', op: 'gt', value: 1 })).toEqual(['a1']);
    expect(await q({ path: 'metadata.region.zone', op: 'lt', value: 'f' })).toEqual(['a1']);
  });

  it('equality is type-sensitive: the string "10" is not the number 10', async () => {
    expect(await q({ path: 'metadata.version', op: 'eq', value: '10' })).toEqual(['a1']);
    expect(await q({ path: 'metadata.version', op: 'eq', value: 10 })).toEqual(['a2']);
    expect(await q({ path: 'metadata.version', op: 'gt', value: 9 })).toEqual(['a2']);
    expect(await q({ path: 'metadata.version', op: 'gt', value: '1' })).toEqual(['a1']);
  });

  it('metadata numbers compare as JavaScript doubles, also past 2^53', async () => {
    // Written to JSON as "501615384571479200", an integer SQLite would read exactly; as a double it is
    // 501615384571479168, and that is the number every comparison must use.
    const big = 501615384571479200;
    await f.registry.register(agent('big', { metadata: { n: big, list: [big] } }));
    expect(await q({ path: 'metadata.n', op: 'eq', value: big })).toEqual(['big']);
    expect(await q({ path: 'metadata.list', op: 'eq', value: big })).toEqual(['big']);
    expect(await q({ path: 'metadata.n', op: 'gte', value: big })).toEqual(['big']);
    expect(await q({ path: 'metadata.n', op: 'gt', value: big })).toEqual([]);
  });

  it('neq and not_in are exact negations, so they match agents where the path is absent', async () => {
    expect(await q({ path: 'metadata.region.zone', op: 'neq', value: 'eu-1' })).toEqual(['a2', 'a3']);
    expect(await q({ path: 'metadata.spot', op: 'neq', value: true })).toEqual(['a2', 'a3']);
    expect(await q({ path: 'type', op: 'neq', value: 'worker' })).toEqual(['a3']);
    expect(await q({ path: 'resources.load', op: 'not_in', value: [0.2] })).toEqual(['a2', 'a3']);
  });

  it('eq null matches an absent or null value, neq null a present one', async () => {
    expect(await q({ path: 'type', op: 'eq', value: null })).toEqual(['a3']);
    expect(await q({ path: 'metadata.note', op: 'eq', value: null })).toEqual(['a1', 'a2', 'a3']);
    expect(await q({ path: 'metadata.tags', op: 'neq', value: null })).toEqual(['a1', 'a2']);
    expect(await q({ path: 'resources.load', op: 'eq', value: null })).toEqual(['a3']);
    expect(await q({ path: 'resources.load', op: 'in', value: [0.9, null] })).toEqual(['a2', 'a3']);
  });

  it('ordering on resources compares numbers and never matches an absent resource', async () => {
    expect(await q({ path: 'resources.memory_available', op: 'gt', value: 1024 })).toEqual(['a1', 'a3']);
    expect(await q({ path: 'resources.memory_available', op: 'lte', value: 2048 })).toEqual(['a2', 'a3']);
    expect(await q({ path: 'resources.load', op: 'lt', value: 1 })).toEqual(['a1', 'a2']);
  });

  it('a path through a non-object (a string, an array) finds nothing there', async () => {
    expect(await q({ path: 'metadata.region.zone', op: 'eq', value: null })).toEqual(['a3']);
    expect(await q({ path: 'metadata.tags.first', op: 'eq', value: null })).toEqual(['a1', 'a2', 'a3']);
  });

  it('top-level fields: id, type, health, node, version and timestamps', async () => {
    expect(await q({ path: 'id', op: 'in', value: ['a1', 'a3', 'zz'] })).toEqual(['a1', 'a3']);
    expect(await q({ path: 'id', op: 'gt', value: 'a1' })).toEqual(['a2', 'a3']);
    expect(await q({ path: 'health', op: 'not_in', value: ['healthy'] })).toEqual(['a2', 'a3']);
    expect(await q({ path: 'version', op: 'eq', value: 1 })).toEqual(['a1', 'a2', 'a3']);
    expect(await q({ path: 'registeredAt', op: 'lt', value: 0 })).toEqual([]);
    expect(await q({ path: 'node', op: 'in', value: [] })).toEqual([]);
    expect(await q({ path: 'node', op: 'not_in', value: [] })).toEqual(['a1', 'a2', 'a3']);
  });

  it('strings order by code point, not by locale', async () => {
    await f.registry.registerMany([agent('B'), agent('b'), agent('é'), agent('😀'), agent('\uffff')]);
    const all = await q({ path: 'id', op: 'gte', value: '' });
    expect(all).toEqual(['B', 'a1', 'a2', 'a3', 'b', 'é', '\uffff', '😀']);
    expect(await q({ path: 'id', op: 'gt', value: '\uffff' })).toEqual(['😀']);
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown top-level path', { path: 'colour', op: 'eq', value: 'red' }, /unknown path/],
    ['a bare metadata path', { path: 'metadata', op: 'eq', value: 1 }, /at least one key/],
    ['a nested resource path', { path: 'resources.mem.free', op: 'gt', value: 1 }, /resources\.<name>/],
    ['an empty path segment', { path: 'metadata..zone', op: 'eq', value: 'x' }, /metadata key ""/],
    ['an unknown operator', { path: 'node', op: 'like', value: 'n%' }, /op must be one of/],
    ['a missing value', { path: 'node', op: 'eq' }, /value is missing/],
    [
      'an ordering of booleans',
      { path: 'metadata.spot', op: 'gt', value: true },
      /compares numbers or strings/,
    ],
    ['an ordering of capabilities', { path: 'capabilities', op: 'gt', value: 'a' }, /capabilities is a list/],
    ['a number for a string field', { path: 'node', op: 'eq', value: 1 }, /node holds strings/],
    ['a string for a resource', { path: 'resources.load', op: 'eq', value: 'low' }, /resources hold numbers/],
    ['a health value that does not exist', { path: 'health', op: 'eq', value: 'sick' }, /not a health value/],
    ['null for a field that is never null', { path: 'node', op: 'eq', value: null }, /never null/],
    ['in without a list', { path: 'node', op: 'in', value: 'n1' }, /takes a list/],
    ['a list for eq', { path: 'node', op: 'eq', value: ['n1'] }, /takes one string/],
    ['an object value', { path: 'metadata.region', op: 'eq', value: { zone: 'eu-1' } }, /takes one string/],
    ['a non-finite number', { path: 'resources.load', op: 'lt', value: Infinity }, /takes one string/],
    ['an unknown key', { path: 'node', op: 'eq', value: 'n1', negate: true }, /unknown key "negate"/],
  ])('%s is an invalid_criteria error naming the criterion', async (_what, criterion, reason) => {
    const criteria = [{ path: 'node', op: 'eq', value: 'n1' }, criterion];
    const error = await rejectionOf(f.registry.query(criteria as Criterion[]));
    expect(error).toBeInstanceOf(InvalidCriteriaError);
    expect(error.code).toBe('invalid_criteria');
    expect((error as InvalidCriteriaError).index).toBe(1);
    expect(error.message).toMatch(/^criterion 1 \(/);
    expect(error.message).toMatch(reason);
  });

  it('criteria that are not a list are an invalid_criteria error', async () => {
    const error = await rejectionOf(f.registry.query({ path: 'node' } as never));
    expect(error).toBeInstanceOf(InvalidCriteriaError);
  });
});

/** The plan the database chooses for a registry query, with sequential scans discouraged on PostgreSQL. */
async function planOf(store: Store, criteria: Criterion[]): Promise<string> {
  const { sql, params } = agentsQuery(store.dialect, criteria);
  if (store.dialect === 'sqlite') {
    const rows = await store.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params);
    return rows.map((r) => r.detail).join('\n');
  }
  // A handful of rows makes a sequential scan the cheapest plan; turning it off shows which index the
  // planner can use for the query, which is what this test is about.
  return store.transaction(async (tx) => {
    await tx.execute('SET LOCAL enable_seqscan = off');
    const rows = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

describe.each(adapters)('registry indexes on $name', (adapter) => {
  let f: RegistryFixture;
  beforeEach(async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { metadata: { region: 'eu' } }));
  });
  afterEach(async () => {
    await f.store.close();
  });

  it.each<[string, Criterion, string]>([
    [
      'find by capability',
      { path: 'capabilities', op: 'eq', value: 'gpu' },
      'garrison_agent_capabilities_by_capability',
    ],
    ['find by health', { path: 'health', op: 'eq', value: 'healthy' }, 'garrison_agents_by_health'],
    ['find by node', { path: 'node', op: 'eq', value: 'n1' }, 'garrison_agents_by_node'],
    [
      'a resource bound',
      { path: 'resources.load', op: 'lt', value: 0.5 },
      'garrison_agent_resources_by_name_value',
    ],
  ])('%s is served by its index', async (_what, criterion, index) => {
    expect(await planOf(f.store, [criterion])).toContain(index);
  });

  itOnPostgres(adapter)('metadata equality is served by the GIN index', async () => {
    expect(await planOf(f.store, [{ path: 'metadata.region', op: 'eq', value: 'eu' }])).toContain(
      'garrison_agents_by_metadata',
    );
  });
});
