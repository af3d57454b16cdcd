/**
 * Helpers for the coordination primitives tests: a fresh database per test, several stores on it (one
 * per simulated node), primitives on a shared virtual clock, and a runtime for process holders — all
 * closed after each test.
 */
import {
  createCoordinationPrimitives,
  type CoordinationPrimitives,
  type CoordinationPrimitivesOptions,
} from '../../../src/coordination/index.js';
import { createRuntime, VirtualClock, type Pid, type Runtime } from '../../../src/runtime/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { TestAdapter } from '../../support/stores.js';

import { until } from '../../work/workflow/helpers.js';

export { rejectionOf, turn, until } from '../../work/workflow/helpers.js';

export interface Scene {
  readonly url: string;
  readonly clock: VirtualClock;
  readonly runtime: Runtime;
  /** The first store on the scene's database. */
  readonly store: Store;
  /** Another store (its own connections) on the same database, closed after the test. */
  openStore(): Promise<Store>;
  /** Primitives for node `nodeId` on `store` (default: the first store), closed after the test. */
  node(nodeId: string, options?: Partial<CoordinationPrimitivesOptions>): CoordinationPrimitives;
  /** A live process that does nothing until killed. */
  spawnIdle(): Promise<Pid>;
  /** Errors reported to `onError`. */
  readonly errors: unknown[];
}

const idle = { init: () => null };

export class Scenes {
  private readonly cleanups: Array<() => Promise<void>> = [];

  async create(adapter: TestAdapter): Promise<Scene> {
    const url = adapter.freshUrl();
    const clock = new VirtualClock();
    const runtime = createRuntime({ clock });
    const stores: Store[] = [];
    const nodes: CoordinationPrimitives[] = [];
    const errors: unknown[] = [];
    const first = await openStore(url);
    stores.push(first);
    this.cleanups.push(async () => {
      for (const node of nodes) await node.close();
      await runtime.shutdown();
      for (const store of stores) await store.close();
    });
    return {
      url,
      clock,
      runtime,
      store: first,
      errors,
      openStore: async () => {
        const store = await openStore(url);
        stores.push(store);
        return store;
      },
      node: (nodeId, options = {}) => {
        const node = createCoordinationPrimitives({
          store: first,
          clock,
          runtime,
          nodeId,
          pollMs: 100,
          onError: (e) => errors.push(e),
          ...options,
        });
        nodes.push(node);
        return node;
      },
      spawnIdle: () => runtime.spawn(idle, undefined),
    };
  }

  async cleanAll(): Promise<void> {
    for (const fn of this.cleanups.splice(0)) await fn();
  }
}

/**
 * Lets `promise` settle, moving the virtual clock to the next due timer whenever one is pending (a
 * waiter asleep until an expiry, a deadline or its next poll) — never further. For waits that may need
 * the clock (another SQLite connection is seen only by polling); nothing is asserted about the steps.
 */
export async function drive<T>(clock: VirtualClock, promise: Promise<T>, maxSteps = 100_000): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < maxSteps && !settled; i++) {
    await until(() => settled || clock.pendingTimers > 0, 'the wait ends or sleeps on the clock');
    const next = clock.nextDueAt();
    if (!settled && next !== undefined) await clock.advanceTo(next);
  }
  return promise;
}

/** Rows of the scene's lease table for `name`, read on `store`. */
export async function leaseRow(
  store: Store,
  kind: 'lock' | 'leader',
  name: string,
): Promise<{ holder: string | null; fence: number } | undefined> {
  const rows = await store.query<{ holder: string | null; fence: number | string }>(
    'SELECT holder, fence FROM garrison_coord_leases WHERE kind = $1 AND name = $2',
    [kind, name],
  );
  const row = rows[0];
  return row === undefined ? undefined : { holder: row.holder, fence: Number(row.fence) };
}
