/**
 * What the inspection commands work on: the store named by `--store`, and the read/admin side of each
 * layer over it. No node runs here; changes (cancel, signal, retry) are store transactions that the
 * nodes holding the work observe.
 */
import { hostname } from 'node:os';
import { createRegistry, type AgentRegistry } from '../registry/index.js';
import { systemClock } from '../runtime/index.js';
import { DurableTimers } from '../scheduler/durable-timers.js';
import type { Store } from '../store/index.js';
import { createQueueClient, type QueueClient } from '../work/queue/index.js';
import { createWorkflowEngine, type WorkflowEngine } from '../work/workflow/index.js';
import { catalogWorkflows } from './catalog.js';
import { openExistingStore } from './store-option.js';

export interface Session {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly workflows: WorkflowEngine;
  readonly timers: DurableTimers;
}

/**
 * Opens the store (migrating it; a store that does not exist is `store_not_found`, nothing created) and
 * runs `fn` with the layers over it; always closes the store.
 */
export async function withSession<T>(url: string, fn: (session: Session) => Promise<T>): Promise<T> {
  const store = await openExistingStore(url);
  const clock = systemClock;
  const nodeId = `cli-${hostname()}-${process.pid}`;
  const workflows = createWorkflowEngine({ store, nodeId, clock, autoExecute: false, recoverIntervalMs: 0 });
  // Runs this process may have to carry out (a cancel's compensations) must be known here.
  workflows.register(...catalogWorkflows);
  try {
    return await fn({
      store,
      registry: createRegistry({ store, clock }),
      queues: createQueueClient({ store, clock, localHandoff: false }),
      workflows,
      timers: new DurableTimers({ store, clock, nodeId }),
    });
  } finally {
    await workflows.stop();
    await store.close();
  }
}
