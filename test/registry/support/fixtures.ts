/** Building blocks for the registry's tests: agents, and a registry on a fresh store with a fixed clock. */
import { VirtualClock } from '../../../src/runtime/clock.js';
import { createRegistry, type AgentInput, type AgentRegistry } from '../../../src/registry/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { TestAdapter } from '../../support/stores.js';

/** 2025-01-01T00:00:00Z: a fixed start so timestamps in dumps are reproducible. */
export const START = Date.UTC(2025, 0, 1);

/** A valid agent; `overrides` replace fields. */
export function agent(id: string, overrides: Partial<AgentInput> = {}): AgentInput {
  return {
    id,
    capabilities: ['compute'],
    health: 'healthy',
    node: 'node-a',
    resources: { memory_available: 1024, cpu_available: 2, load: 0.5 },
    ...overrides,
  };
}

export interface RegistryFixture {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly clock: VirtualClock;
  /** The store's URL, to open more handles on the same database. */
  readonly url: string;
}

/** A registry on the store at `url`, with a virtual clock at START. Close `store` when done. */
export async function openRegistryAt(url: string): Promise<RegistryFixture> {
  const store = await openStore(url);
  const clock = new VirtualClock(START);
  return { store, registry: createRegistry({ store, clock }), clock, url };
}

/** A registry on a fresh store of the adapter. Close `store` when done. */
export function openRegistry(adapter: TestAdapter): Promise<RegistryFixture> {
  return openRegistryAt(adapter.freshUrl());
}

/** The error `promise` rejects with; throws if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** The ids of a list of agents, in order. */
export function ids(agents: ReadonlyArray<{ id: string }>): string[] {
  return agents.map((a) => a.id);
}
