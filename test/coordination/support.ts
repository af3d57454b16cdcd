/**
 * Helpers for the coordination tests: a runtime on a virtual clock, a fresh store per test, and the
 * supervisors and collectors made on them, all stopped and closed after each test.
 */
import { createRuntime, VirtualClock, type Runtime, type RuntimeEvent } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import {
  createWorkflowSupervisor,
  type WorkflowSupervisor,
  type WorkflowSupervisorOptions,
} from '../../src/coordination/index.js';
import {
  createWorkflowEngine,
  type WorkflowEngine,
  type WorkflowEngineOptions,
} from '../../src/work/index.js';
import type { TestAdapter } from '../support/stores.js';

export { deferred, rejectionOf, turn, until } from '../work/workflow/helpers.js';

export interface Scene {
  readonly store: Store;
  readonly url: string;
  readonly clock: VirtualClock;
  readonly runtime: Runtime;
  readonly events: RuntimeEvent[];
  readonly errors: unknown[];
  /** A workflow supervisor on this scene's runtime and store (options override), stopped after the test. */
  supervisor(options?: Partial<WorkflowSupervisorOptions>): WorkflowSupervisor;
  /** A plain engine (another node, or one that dies), stopped after the test. */
  engine(options: Partial<WorkflowEngineOptions> & { nodeId: string }): WorkflowEngine;
  /** Another store on the same database, closed after the test. */
  openAgain(): Promise<Store>;
  /** Runs of the scene's database by status, as `status: count`. */
  statuses(): Promise<Record<string, number>>;
}

export class Scenes {
  private readonly cleanups: Array<() => Promise<void>> = [];

  async create(adapter: TestAdapter): Promise<Scene> {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    const clock = new VirtualClock();
    const events: RuntimeEvent[] = [];
    const errors: unknown[] = [];
    const runtime = createRuntime({ clock, events: (e) => events.push(e) });
    this.cleanups.push(async () => {
      await runtime.shutdown();
      await store.close();
    });
    const later = (fn: () => Promise<void>) => this.cleanups.unshift(fn);
    return {
      store,
      url,
      clock,
      runtime,
      events,
      errors,
      supervisor: (options = {}) => {
        const sup = createWorkflowSupervisor({
          runtime,
          store,
          nodeId: 'node-a',
          onError: (e) => errors.push(e),
          ...options,
        });
        later(() => sup.stop());
        return sup;
      },
      engine: (options) => {
        const engine = createWorkflowEngine({ store, clock, recoverIntervalMs: 0, ...options });
        later(() => engine.stop());
        return engine;
      },
      openAgain: async () => {
        const again = await openStore(url);
        this.cleanups.push(() => again.close());
        return again;
      },
      statuses: async () => {
        const rows = await store.query<{ status: string; n: number | string }>(
          'SELECT status, COUNT(*) AS n FROM garrison_workflow_runs GROUP BY status',
        );
        return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      },
    };
  }

  async cleanAll(): Promise<void> {
    for (const fn of this.cleanups.splice(0)) await fn();
  }
}
