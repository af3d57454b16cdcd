import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import {
  AgentExistsError,
  AgentNotFoundError,
  InvalidHealthError,
  MissingFieldError,
  createRegistry,
} from '../../src/registry/index.js';
import { ValidationError } from '../../src/errors.js';
import { adapters } from '../support/stores.js';
import { dumpRegistry } from './support/dump.js';
import { START, agent, ids, openRegistry, rejectionOf, type RegistryFixture } from './support/fixtures.js';

describe.each(adapters)('agent registry on $name', (adapter) => {
  let f: RegistryFixture;
  afterEach(async () => {
    await f?.store.close();
  });

  it('register stores every field and lookup returns the agent as registered', async () => {
    f = await openRegistry(adapter);
    const input = agent('a1', {
      type: 'worker',
      capabilities: ['compute', 'storage'],
      health: 'degraded',
      node: 'node-b',
      process: 'proc-1',
      resources: { memory_available: 2048, cpu_available: 4, load: 0.25 },
      metadata: { region: { zone: 'eu-1', rack: 7 }, tags: ['gpu', 'ssd'], spot: false, note: null },
    });
    const registered = await f.registry.register(input);
    const expected = { ...input, version: 1, registeredAt: START, updatedAt: START };
    expect(registered).toEqual(expected);
    expect(await f.registry.lookup('a1')).toEqual(expected);
    expect(await f.registry.get('a1')).toEqual(expected);
  });

  it('optional fields default to null type, null process and empty metadata', async () => {
    f = await openRegistry(adapter);
    const registered = await f.registry.register(agent('a1'));
    expect(registered).toMatchObject({ type: null, process: null, metadata: {} });
    expect(await f.registry.lookup('a1')).toMatchObject({ type: null, process: null, metadata: {} });
  });

  it('a registered agent is still there after the store is closed and opened again', async () => {
    const url = adapter.freshUrl();
    const first = await openStore(url);
    await createRegistry({ store: first }).register(agent('durable', { metadata: { k: 'v' } }));
    await first.close();
    const store = await openStore(url);
    f = { store, registry: createRegistry({ store }), clock: undefined as never, url };
    expect(await f.registry.lookup('durable')).toMatchObject({ id: 'durable', metadata: { k: 'v' } });
  });

  it('lookup of an unknown id gives undefined and get gives agent_not_found', async () => {
    f = await openRegistry(adapter);
    expect(await f.registry.lookup('nobody')).toBeUndefined();
    const error = await rejectionOf(f.registry.get('nobody'));
    expect(error).toBeInstanceOf(AgentNotFoundError);
    expect(error.code).toBe('agent_not_found');
  });

  it.each(['id', 'capabilities', 'health', 'node', 'resources'] as const)(
    'register without %s fails with missing_field naming it and writes nothing',
    async (field) => {
      f = await openRegistry(adapter);
      const input: Record<string, unknown> = { ...agent('a1') };
      delete input[field];
      const error = await rejectionOf(f.registry.register(input as never));
      expect(error).toBeInstanceOf(MissingFieldError);
      expect(error.code).toBe('missing_field');
      expect((error as MissingFieldError).fields).toEqual([field]);
      expect(error.message).toContain(field);
      expect(await f.registry.count()).toBe(0);
    },
  );

  it('register with a bad health value fails with invalid_health and writes nothing', async () => {
    f = await openRegistry(adapter);
    const error = await rejectionOf(f.registry.register(agent('a1', { health: 'sick' as never })));
    expect(error).toBeInstanceOf(InvalidHealthError);
    expect(error.code).toBe('invalid_health');
    expect(error.message).toContain('"sick"');
    expect(await f.registry.count()).toBe(0);
  });

  it.each([
    ['an empty capability list', { capabilities: [] }, 'capabilities'],
    ['a capability listed twice', { capabilities: ['a', 'a'] }, 'capabilities.1'],
    ['a non-number resource', { resources: { load: 'high' } }, 'resources.load'],
    ['an infinite resource', { resources: { load: Infinity } }, 'resources.load'],
    ['a resource name a path cannot address', { resources: { 'mem.free': 1 } }, 'mem.free'],
    ['an empty node', { node: '' }, 'node'],
    ['metadata that is not an object', { metadata: ['x'] }, 'metadata'],
    ['metadata holding a function', { metadata: { f: () => 1 } }, 'metadata.f'],
    ['an unknown field', { colour: 'blue' }, 'colour'],
  ])('register with %s fails with invalid_input naming the field', async (_what, overrides, field) => {
    f = await openRegistry(adapter);
    const error = await rejectionOf(f.registry.register(agent('a1', overrides as never)));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain(field);
    expect(await f.registry.count()).toBe(0);
  });

  it('registering a taken id fails with agent_exists and keeps the first agent unchanged', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { node: 'first' }));
    const before = await dumpRegistry(f.store);
    const error = await rejectionOf(f.registry.register(agent('a1', { node: 'second' })));
    expect(error).toBeInstanceOf(AgentExistsError);
    expect(error.code).toBe('agent_exists');
    expect((await dumpRegistry(f.store)).hash).toBe(before.hash);
    expect((await f.registry.get('a1')).node).toBe('first');
  });

  it('concurrent single changes commit independently: the one that fails takes nothing with it', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('taken'));
    const outcomes = await Promise.allSettled([
      f.registry.register(agent('c1')),
      f.registry.register(agent('taken', { node: 'other' })),
      f.registry.register(agent('c2')),
      f.registry.update('ghost', { node: 'x' }),
      f.registry.update('taken', { health: 'degraded' }),
      f.registry.register(agent('c3')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(ids(await f.registry.list())).toEqual(['c1', 'c2', 'c3', 'taken']);
    expect(await f.registry.get('taken')).toMatchObject({ node: 'node-a', health: 'degraded', version: 2 });
  });

  it('update replaces the given fields, bumps the version and moves the agent between indexes', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { capabilities: ['old', 'kept'], node: 'n1', health: 'healthy' }));
    await f.clock.advance(1000);
    const updated = await f.registry.update('a1', {
      capabilities: ['kept', 'new'],
      node: 'n2',
      health: 'unhealthy',
      resources: { load: 0.9 },
    });
    expect(updated).toMatchObject({ version: 2, registeredAt: START, updatedAt: START + 1000, node: 'n2' });
    expect(await f.registry.get('a1')).toEqual(updated);
    expect(ids(await f.registry.findByCapability('old'))).toEqual([]);
    expect(ids(await f.registry.findByCapability('new'))).toEqual(['a1']);
    expect(ids(await f.registry.findByCapability('kept'))).toEqual(['a1']);
    expect(ids(await f.registry.findByNode('n1'))).toEqual([]);
    expect(ids(await f.registry.findByNode('n2'))).toEqual(['a1']);
    expect(ids(await f.registry.findByHealth('healthy'))).toEqual([]);
    expect(ids(await f.registry.findByHealth('unhealthy'))).toEqual(['a1']);
    expect(ids(await f.registry.findWithResources({ memory_available: 1 }))).toEqual([]);
    expect(ids(await f.registry.findWithResources({ load: 0.9 }))).toEqual(['a1']);
  });

  it('update with a function reads the current agent', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { resources: { load: 1 } }));
    const updated = await f.registry.update('a1', (a) => ({
      resources: { load: (a.resources.load ?? 0) + 1 },
    }));
    expect(updated.resources).toEqual({ load: 2 });
  });

  it('updateMetadata replaces the metadata and leaves everything else', async () => {
    f = await openRegistry(adapter);
    const before = await f.registry.register(agent('a1', { metadata: { a: 1, b: { c: 2 } } }));
    const after = await f.registry.updateMetadata('a1', { b: { d: [1, 'x'] } });
    expect(after).toEqual({ ...before, metadata: { b: { d: [1, 'x'] } }, version: 2 });
    expect(await f.registry.get('a1')).toEqual(after);
  });

  it('an invalid update fails with the specific error and changes nothing', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1'));
    const before = await dumpRegistry(f.store);
    expect(await rejectionOf(f.registry.update('a1', { health: 'ok' as never }))).toBeInstanceOf(
      InvalidHealthError,
    );
    expect(await rejectionOf(f.registry.update('a1', { capabilities: [] }))).toBeInstanceOf(ValidationError);
    expect(await rejectionOf(f.registry.update('a1', { id: 'renamed' } as never))).toBeInstanceOf(
      ValidationError,
    );
    expect((await dumpRegistry(f.store)).hash).toBe(before.hash);
  });

  it('update, updateMetadata and unregister of an unknown agent fail with agent_not_found', async () => {
    f = await openRegistry(adapter);
    for (const attempt of [
      f.registry.update('ghost', { node: 'x' }),
      f.registry.updateMetadata('ghost', {}),
      f.registry.unregister('ghost'),
    ]) {
      const error = await rejectionOf(attempt);
      expect(error).toBeInstanceOf(AgentNotFoundError);
      expect(error.message).toContain('"ghost"');
    }
  });

  it('unregister removes the agent and every index entry of it', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { capabilities: ['x', 'y'] }));
    await f.registry.register(agent('a2', { capabilities: ['y'] }));
    const removed = await f.registry.unregister('a1');
    expect(removed.id).toBe('a1');
    expect(await f.registry.lookup('a1')).toBeUndefined();
    expect(ids(await f.registry.findByCapability('y'))).toEqual(['a2']);
    expect(await f.registry.countByCapability()).toEqual({ y: 1 });
    const orphans = await f.store.query(
      "SELECT agent_id FROM garrison_agent_capabilities WHERE agent_id = 'a1' " +
        "UNION ALL SELECT agent_id FROM garrison_agent_resources WHERE agent_id = 'a1'",
    );
    expect(orphans).toEqual([]);
  });

  it('unregisterProcess removes every agent the process owns and no other', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { process: 'p1' }));
    await f.registry.register(agent('a2', { process: 'p1' }));
    await f.registry.register(agent('a3', { process: 'p2' }));
    await f.registry.register(agent('a4'));
    const removed = await f.registry.unregisterProcess('p1', { reason: 'process_exited' });
    expect(ids(removed)).toEqual(['a1', 'a2']);
    expect(ids(await f.registry.list())).toEqual(['a3', 'a4']);
    expect(await f.registry.unregisterProcess('p-unknown')).toEqual([]);
  });

  it('count and list apply a filter on capability, health, node, type and process', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1', { capabilities: ['x'], node: 'n1', type: 't1' }));
    await f.registry.register(agent('a2', { capabilities: ['x', 'y'], node: 'n2', health: 'degraded' }));
    await f.registry.register(agent('a3', { capabilities: ['y'], node: 'n1', process: 'p' }));
    expect(await f.registry.count()).toBe(3);
    expect(ids(await f.registry.list())).toEqual(['a1', 'a2', 'a3']);
    expect(await f.registry.count({ capability: 'x' })).toBe(2);
    expect(ids(await f.registry.list({ capability: 'y', node: 'n1' }))).toEqual(['a3']);
    expect(ids(await f.registry.list({ health: 'degraded' }))).toEqual(['a2']);
    expect(ids(await f.registry.list({ type: 't1' }))).toEqual(['a1']);
    expect(ids(await f.registry.list({ process: 'p' }))).toEqual(['a3']);
    expect(await rejectionOf(f.registry.list({ colour: 'red' } as never))).toBeInstanceOf(ValidationError);
  });

  it('registerMany registers every agent in one go', async () => {
    f = await openRegistry(adapter);
    const agents = await f.registry.registerMany([agent('a1'), agent('a2'), agent('a3')]);
    expect(ids(agents)).toEqual(['a1', 'a2', 'a3']);
    expect(await f.registry.count()).toBe(3);
  });

  it('registerMany writes nothing when one agent is invalid, and the error names its index', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('existing'));
    const before = await dumpRegistry(f.store);
    const invalid = await rejectionOf(
      f.registry.registerMany([agent('a1'), agent('a2'), agent('a3', { health: 'bad' as never })]),
    );
    expect(invalid).toBeInstanceOf(InvalidHealthError);
    expect(invalid.message).toContain('agents.2.health');
    const missing = await rejectionOf(f.registry.registerMany([agent('a1'), { id: 'a2' } as never]));
    expect(missing).toBeInstanceOf(MissingFieldError);
    expect((missing as MissingFieldError).fields).toContain('agents.1.node');
    expect((await dumpRegistry(f.store)).hash).toBe(before.hash);
  });

  it('registerMany writes nothing when an id is taken, in the store or twice in the batch', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('existing'));
    const before = await dumpRegistry(f.store);
    const taken = await rejectionOf(f.registry.registerMany([agent('a1'), agent('a2'), agent('existing')]));
    expect(taken).toBeInstanceOf(AgentExistsError);
    expect((taken as AgentExistsError).agentId).toBe('existing');
    const twice = await rejectionOf(f.registry.registerMany([agent('b1'), agent('b1')]));
    expect(twice).toBeInstanceOf(AgentExistsError);
    expect((await dumpRegistry(f.store)).hash).toBe(before.hash);
  });
});
