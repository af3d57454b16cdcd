import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { adapters } from '../support/stores.js';
import { agent, ids, openRegistry, rejectionOf, type RegistryFixture } from './support/fixtures.js';

describe.each(adapters)('registry discovery on $name', (adapter) => {
  let f: RegistryFixture;
  beforeEach(async () => {
    f = await openRegistry(adapter);
    await f.registry.registerMany([
      agent('busy', {
        capabilities: ['compute', 'gpu'],
        resources: { memory_available: 8192, cpu_available: 8, load: 0.9 },
      }),
      agent('idle', {
        capabilities: ['compute'],
        resources: { memory_available: 1024, cpu_available: 2, load: 0.1 },
      }),
      agent('mid', {
        capabilities: ['compute', 'gpu'],
        resources: { memory_available: 4096, cpu_available: 4, load: 0.5 },
      }),
      agent('sick', { capabilities: ['compute', 'gpu'], health: 'unhealthy', resources: { load: 0 } }),
      agent('slow', { capabilities: ['compute'], health: 'degraded', resources: { load: 0.05 } }),
      agent('unmeasured', { capabilities: ['compute'], resources: {} }),
    ]);
  });
  afterEach(async () => {
    await f.store.close();
  });

  it('findCapableHealthy returns only healthy agents with the capability', async () => {
    expect(ids(await f.registry.findCapableHealthy('gpu'))).toEqual(['busy', 'mid']);
    expect(ids(await f.registry.findCapableHealthy('nothing'))).toEqual([]);
  });

  it('findWithResources returns agents with at least every given amount', async () => {
    expect(ids(await f.registry.findWithResources({ memory_available: 4096 }))).toEqual(['busy', 'mid']);
    expect(ids(await f.registry.findWithResources({ memory_available: 2000, cpu_available: 5 }))).toEqual([
      'busy',
    ]);
    expect(ids(await f.registry.findWithResources({ gpu_memory: 1 }))).toEqual([]);
  });

  it('findWithCapabilities returns agents having all of them', async () => {
    expect(ids(await f.registry.findWithCapabilities(['compute', 'gpu']))).toEqual(['busy', 'mid', 'sick']);
    expect(ids(await f.registry.findWithCapabilities(['gpu', 'storage']))).toEqual([]);
  });

  it('leastLoaded orders healthy capable agents by load, unmeasured last, then by id', async () => {
    expect(ids(await f.registry.leastLoaded('compute'))).toEqual(['idle']);
    expect(ids(await f.registry.leastLoaded('compute', { limit: 10 }))).toEqual([
      'idle',
      'mid',
      'busy',
      'unmeasured',
    ]);
    expect(
      ids(await f.registry.leastLoaded('compute', { limit: 2, health: ['healthy', 'degraded'] })),
    ).toEqual(['slow', 'idle']);
    expect(ids(await f.registry.leastLoaded('gpu', { limit: 10, resource: 'cpu_available' }))).toEqual([
      'mid',
      'busy',
    ]);
  });

  it('countByCapability counts agents per capability', async () => {
    expect(await f.registry.countByCapability()).toEqual({ compute: 6, gpu: 3 });
  });

  it('healthSummary counts agents per health value', async () => {
    expect(await f.registry.healthSummary()).toEqual({ total: 6, healthy: 4, degraded: 1, unhealthy: 1 });
  });

  it('resourceSummary gives count, total, min, max and average per resource', async () => {
    const summary = await f.registry.resourceSummary();
    expect(Object.keys(summary)).toEqual(['cpu_available', 'load', 'memory_available']);
    expect(summary.memory_available).toEqual({
      agents: 3,
      total: 13312,
      min: 1024,
      max: 8192,
      average: 13312 / 3,
    });
    expect(summary.cpu_available).toEqual({ agents: 3, total: 14, min: 2, max: 8, average: 14 / 3 });
    expect(summary.load?.agents).toBe(5);
    expect(summary.load?.min).toBe(0);
    expect(summary.load?.max).toBe(0.9);
    expect(summary.load?.total).toBeCloseTo(1.55, 12);
  });

  it('bad arguments are specific errors, not empty answers', async () => {
    expect(await rejectionOf(f.registry.findCapableHealthy(''))).toBeInstanceOf(ValidationError);
    expect(await rejectionOf(f.registry.findWithCapabilities([]))).toBeInstanceOf(ValidationError);
    expect(await rejectionOf(f.registry.findWithResources({ load: Number.NaN }))).toBeInstanceOf(
      ValidationError,
    );
    expect(await rejectionOf(f.registry.leastLoaded('compute', { limit: 0 }))).toBeInstanceOf(
      ValidationError,
    );
    expect(
      await rejectionOf(f.registry.leastLoaded('compute', { health: ['fine' as never] })),
    ).toBeInstanceOf(ValidationError);
  });

  it('a failing store makes every discovery helper reject instead of answering empty', async () => {
    await f.store.close();
    const attempts: Array<[string, Promise<unknown>]> = [
      ['findCapableHealthy', f.registry.findCapableHealthy('compute')],
      ['findWithResources', f.registry.findWithResources({ load: 0 })],
      ['findWithCapabilities', f.registry.findWithCapabilities(['compute'])],
      ['leastLoaded', f.registry.leastLoaded('compute')],
      ['countByCapability', f.registry.countByCapability()],
      ['healthSummary', f.registry.healthSummary()],
      ['resourceSummary', f.registry.resourceSummary()],
      ['query', f.registry.query([])],
      ['list', f.registry.list()],
      ['count', f.registry.count()],
      ['lookup', f.registry.lookup('idle')],
    ];
    for (const [name, attempt] of attempts) {
      const error = await rejectionOf(attempt);
      expect(error.code, name).toBe('store_closed');
    }
  });
});
