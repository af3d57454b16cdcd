/**
 * The task distributor killed with SIGKILL in the middle of its work (a real child process, inside a
 * transaction just before COMMIT): nothing is lost and no step gets a second live task; a new distributor
 * on the same store finishes the job.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTaskDistributor, isDispatchedTask } from '../../src/coordination/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { parseJson, openStore, type Store } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { repositoryRoot, spawnScript } from '../support/child.js';
import { adapters } from '../support/stores.js';

const STEPS = 6;

/** Runs the child; answers the signal that ended it (null when it finished). */
async function runChild(url: string, mode: 'dispatch' | 'sweep', killAt: number): Promise<string | null> {
  const script = join(repositoryRoot, 'test', 'coordination', 'fixtures', 'distributor-crash-child.ts');
  const { code, signal, stdout, stderr } = await spawnScript(script, [url, mode, killAt, STEPS]).exited;
  if (signal === null && code !== 0) throw new Error(`the child failed (${code}): ${stdout}${stderr}`);
  return signal;
}

/** The queues holding each step's live (queued or running) tasks, by workflow id. */
async function copiesByStep(store: Store): Promise<Map<string, string[]>> {
  const rows = await store.query<{ queue: string; payload: unknown }>(
    "SELECT queue, payload FROM garrison_tasks WHERE state IN ('queued', 'running') ORDER BY id",
  );
  const by = new Map<string, string[]>();
  for (const r of rows) {
    const task = parseJson(r.payload);
    if (!isDispatchedTask(task)) continue;
    by.set(task.dispatch.workflowId, [...(by.get(task.dispatch.workflowId) ?? []), r.queue]);
  }
  return by;
}

function distributorOn(store: Store) {
  return createTaskDistributor({
    store,
    registry: createRegistry({ store }),
    queues: createQueueClient({ store, localHandoff: false }),
    clock: new VirtualClock(0),
    queueOf: (id) => `agent:${id}`,
    agentQueuePrefix: 'agent:',
    results: () => ({
      completeDispatched: () => Promise.resolve(true),
      failDispatched: () => Promise.resolve(true),
    }),
  });
}

const request = (n: number) => ({
  workflowId: `wf-${n}`,
  stepIndex: 0,
  capability: 'validate',
  action: 'check',
  input: { n },
  idempotencyKey: `wf-${n}:0`,
});

describe.each(adapters)('task distributor killed with SIGKILL on $name', (adapter) => {
  it('killed while dispatching: the steps handed off are on one agent each, the one in flight is handed off once when its workflow resumes', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    try {
      await createRegistry({ store }).register({
        id: 'v1',
        capabilities: ['validate'],
        health: 'healthy',
        node: 'n1',
        resources: {},
      });
      expect(await runChild(url, 'dispatch', 4)).toBe('SIGKILL');
      const by = await copiesByStep(store);
      expect([...by.keys()].sort()).toEqual(['wf-0', 'wf-1', 'wf-2']); // the 4th never committed
      // The engine hands every pending step off again after the restart.
      const next = distributorOn(store);
      for (let n = 0; n < STEPS; n++) await next.dispatch(request(n));
      const after = await copiesByStep(store);
      expect(after.size).toBe(STEPS);
      for (const copies of after.values()) expect(copies).toEqual(['agent:v1']);
      expect(next.stats()).toMatchObject({ repeated: 3, routed: STEPS - 3 });
    } finally {
      await store.close();
    }
  });

  it('killed while moving the work of a dead agent: each step has one live task, and a new distributor moves the rest', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    try {
      const registry = createRegistry({ store });
      await registry.register({
        id: 'v1',
        capabilities: ['validate'],
        health: 'healthy',
        node: 'n1',
        resources: {},
      });
      const first = distributorOn(store);
      for (let n = 0; n < STEPS; n++) await first.dispatch(request(n));
      await registry.unregister('v1');
      await registry.register({
        id: 'v2',
        capabilities: ['validate'],
        health: 'healthy',
        node: 'n1',
        resources: {},
      });

      expect(await runChild(url, 'sweep', 3)).toBe('SIGKILL');
      const by = await copiesByStep(store);
      expect(by.size).toBe(STEPS);
      for (const copies of by.values()) expect(copies).toHaveLength(1);
      expect([...by.values()].flat().filter((q) => q === 'agent:v2')).toHaveLength(2);

      await distributorOn(store).sweep();
      const after = await copiesByStep(store);
      expect(after.size).toBe(STEPS);
      for (const copies of after.values()) expect(copies).toEqual(['agent:v2']);
    } finally {
      await store.close();
    }
  });
});
