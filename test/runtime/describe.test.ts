import { describe, expect, it } from 'vitest';
import {
  DynamicSupervisor,
  Supervisor,
  TaskPool,
  describeTree,
  type Runtime,
  type SupervisorStrategy,
  type SupervisorSpec,
} from '../../src/runtime/index.js';
import { harness, worker } from './support.js';

/** Stands in for a node's tree builder: configuration in, supervisor spec out. */
function buildTree(rt: Runtime, options: { coreStrategy?: SupervisorStrategy } = {}): SupervisorSpec {
  const log: string[] = [];
  return {
    id: 'node',
    strategy: 'one_for_one',
    maxRestarts: 5,
    periodMs: 10_000,
    children: [
      Supervisor.childSpec(rt, {
        id: 'core',
        strategy: options.coreStrategy ?? 'rest_for_one',
        children: [
          { id: 'registry', start: (o) => rt.spawn(worker(log, 'registry'), undefined, o), shutdownMs: 2000 },
        ],
      }),
      DynamicSupervisor.childSpec(rt, { id: 'agents', maxChildren: 100 }),
      TaskPool.childSpec(rt, { name: 'io', concurrency: 4, taskTimeoutMs: 60_000 }),
    ],
  };
}

describe('supervision tree descriptions', () => {
  it('describe a tree as plain data: ids, strategies, intensities and children, recursively', () => {
    const { rt } = harness();
    const description = describeTree(buildTree(rt));
    expect(description).toEqual({
      kind: 'supervisor',
      id: 'node',
      strategy: 'one_for_one',
      maxRestarts: 5,
      periodMs: 10_000,
      children: [
        {
          id: 'core',
          type: 'supervisor',
          restart: 'permanent',
          shutdownMs: 'infinity',
          node: {
            kind: 'supervisor',
            id: 'core',
            strategy: 'rest_for_one',
            maxRestarts: 3,
            periodMs: 5000,
            children: [{ id: 'registry', type: 'worker', restart: 'permanent', shutdownMs: 2000 }],
          },
        },
        {
          id: 'agents',
          type: 'supervisor',
          restart: 'permanent',
          shutdownMs: 'infinity',
          node: {
            kind: 'dynamic_supervisor',
            id: 'agents',
            maxChildren: 100,
            maxRestarts: 3,
            periodMs: 5000,
          },
        },
        {
          id: 'io',
          type: 'worker',
          restart: 'permanent',
          shutdownMs: 5000,
          node: { kind: 'task_pool', name: 'io', concurrency: 4, taskTimeoutMs: 60_000, maxQueued: 10_000 },
        },
      ],
    });
    expect(JSON.parse(JSON.stringify(description))).toEqual(description);
  });

  it('are equal for two trees built by the same function in different runtimes, and differ when a strategy differs', () => {
    const a = harness();
    const b = harness();
    expect(describeTree(buildTree(a.rt))).toEqual(describeTree(buildTree(b.rt)));
    expect(describeTree(buildTree(b.rt, { coreStrategy: 'one_for_all' }))).not.toEqual(
      describeTree(buildTree(a.rt)),
    );
  });

  it('a running supervisor describes itself exactly as its spec does', async () => {
    const { rt } = harness();
    const spec = buildTree(rt);
    const sup = await Supervisor.start(rt, spec);
    await expect(sup.describe()).resolves.toEqual(describeTree(spec));
    await sup.stop();
    expect(rt.processCount).toBe(0);
  });
});
