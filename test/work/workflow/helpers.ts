/**
 * Helpers for the workflow tests: engines on fresh stores that are stopped and closed after each test,
 * a virtual clock, promises a test resolves by hand, and a bounded wait for a condition (turns of the
 * event loop, never wall-clock time).
 */
import { openStore, type Store } from '../../../src/store/index.js';
import { VirtualClock } from '../../../src/runtime/clock.js';
import {
  createWorkflowEngine,
  type WorkflowEngine,
  type WorkflowEngineOptions,
} from '../../../src/work/workflow/index.js';
import type { TestAdapter } from '../../support/stores.js';

export interface Harness {
  readonly store: Store;
  readonly url: string;
  readonly clock: VirtualClock;
  /** An engine on this harness's store (and clock unless given), stopped after the test. */
  engine(options?: Partial<WorkflowEngineOptions>): WorkflowEngine;
  /** Another store on the same database, closed after the test. */
  openAgain(): Promise<Store>;
}

export class Harnesses {
  private readonly engines: WorkflowEngine[] = [];
  private readonly stores: Store[] = [];

  async create(adapter: TestAdapter): Promise<Harness> {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    this.stores.push(store);
    const clock = new VirtualClock();
    return {
      store,
      url,
      clock,
      engine: (options = {}) => {
        const engine = createWorkflowEngine({
          store,
          clock,
          nodeId: 'node-a',
          // Tests call recover() themselves where they mean to.
          recoverIntervalMs: 0,
          ...options,
        });
        this.engines.push(engine);
        return engine;
      },
      openAgain: async () => {
        const again = await openStore(url);
        this.stores.push(again);
        return again;
      },
    };
  }

  async closeAll(): Promise<void> {
    for (const engine of this.engines.splice(0)) await engine.stop();
    for (const store of this.stores.splice(0)) await store.close();
  }
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A turn of the event loop: queued promise callbacks and I/O callbacks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Lets the event loop turn until `condition` holds, checking after every turn at first and then every
 * millisecond or so (database round trips take real time); gives up after `checks` checks. Nothing is
 * asserted about how long it took.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  checks = 20_000,
): Promise<void> {
  for (let i = 0; i < checks; i++) {
    if (await condition()) return;
    if (i < 200) await turn();
    else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`gave up waiting until ${what}`);
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
