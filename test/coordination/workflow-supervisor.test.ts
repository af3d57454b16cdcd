/**
 * The workflow supervisor: one WorkflowServer process per running run, a limit on running runs whose
 * excess waits in the store, recovery on start-up, and crashes that touch nothing but the crashed part.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkflowSupervisor, type WorkflowSupervisorOptions } from '../../src/coordination/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { deferred, Scenes, until, type Scene } from './support.js';

type Gate = ReturnType<typeof deferred<void>>;

/** A workflow of three steps whose middle one waits for its run's gate; counts each step's executions. */
function gatedWorkflow(name: string) {
  const gates = new Map<string, Gate>();
  const calls = new Map<string, number>();
  const gate = (id: string): Gate => {
    let g = gates.get(id);
    if (g === undefined) gates.set(id, (g = deferred()));
    return g;
  };
  const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1);
  const wf = defineWorkflow(name, async (ctx, n: number) => {
    const a = await ctx.step('a', async () => {
      count(`${ctx.workflowId}:a`);
      return n;
    });
    const b = await ctx.step('b', async () => {
      count(`${ctx.workflowId}:b`);
      await gate(ctx.workflowId).promise;
      return a + 1;
    });
    return ctx.step('c', async () => {
      count(`${ctx.workflowId}:c`);
      return b * 10;
    });
  });
  return { wf, gate, calls };
}

async function serverIds(sup: { servers(): Promise<Array<{ workflowId: string }>> }): Promise<string[]> {
  return (await sup.servers()).map((s) => s.workflowId).sort();
}

/** Starts runs `<prefix>-1` … one clock ms apart (so "oldest first" is well defined). */
async function startRuns(
  scene: Scene,
  start: (id: string, n: number) => Promise<unknown>,
  prefix: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    ids.push(`${prefix}-${i}`);
    await start(`${prefix}-${i}`, i);
    await scene.clock.advance(1);
  }
  return ids;
}

describe.each(adapters)('WorkflowSupervisor on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('gives every started run a WorkflowServer process that ends normally with its run', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate } = gatedWorkflow('three');
    const sup = scene.supervisor({ workflows: [wf] });
    await sup.start();
    const ids = await startRuns(scene, (id, n) => sup.engine.start(wf, n, { workflowId: id }), 'r', 3);
    await until(async () => (await serverIds(sup)).length === 3, 'three servers run');
    expect(await serverIds(sup)).toEqual(ids);
    const pids = (await sup.servers()).map((s) => s.pid);
    expect(new Set(pids).size).toBe(3);

    for (const id of ids) gate(id).resolve();
    expect(await Promise.all(ids.map((id) => sup.engine.result(id)))).toEqual([20, 30, 40]);
    await until(async () => (await serverIds(sup)).length === 0, 'the servers end');
    const exits = scene.events.filter((e) => e.type === 'exit' && pids.includes(e.pid));
    expect(exits.map((e) => (e.type === 'exit' ? e.reason : undefined))).toEqual([
      'normal',
      'normal',
      'normal',
    ]);
    expect(scene.events.filter((e) => e.type === 'restart')).toEqual([]);
    expect(scene.errors).toEqual([]);
  });

  it('runs past the limit wait pending in the store, and start oldest first as servers end', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate } = gatedWorkflow('limited');
    const sup = scene.supervisor({ maxRunning: 2, workflows: [wf] });
    await sup.start();
    const ids = await startRuns(scene, (id, n) => sup.engine.start(wf, n, { workflowId: id }), 'q', 5);
    await until(async () => (await scene.statuses()).pending === 3, 'three runs wait');
    expect(await serverIds(sup)).toEqual(['q-1', 'q-2']);
    // Waiting means a durable row: pending, nobody's.
    const waiting = await sup.engine.list({ status: 'pending' });
    expect(waiting.map((r) => [r.id, r.owner]).sort()).toEqual([
      ['q-3', undefined],
      ['q-4', undefined],
      ['q-5', undefined],
    ]);

    gate('q-2').resolve();
    await until(async () => (await serverIds(sup)).includes('q-3'), 'q-3 gets the free slot');
    expect(await serverIds(sup)).toEqual(['q-1', 'q-3']);
    gate('q-1').resolve();
    await until(async () => (await serverIds(sup)).includes('q-4'), 'q-4 gets the next one');
    expect(await serverIds(sup)).toEqual(['q-3', 'q-4']);
    for (const id of ids) gate(id).resolve();
    expect(await Promise.all(ids.map((id) => sup.engine.result(id)))).toEqual([20, 30, 40, 50, 60]);
    expect(await scene.statuses()).toEqual({ completed: 5 });
  });

  it('on start-up resumes the runs this node owns at once, and a dead node’s when its lease expires', async () => {
    const scene = await scenes.create(adapter);
    const lease = 10_000;
    const mine = gatedWorkflow('resumable');
    // Two earlier lives: this node before its restart, and another node that died. Their clocks stand
    // still (neither renews a lease again); their step functions hang forever.
    const frozen = new (scene.clock.constructor as new (t: number) => typeof scene.clock)(scene.clock.now());
    const before = scene.engine({ nodeId: 'node-a', leaseMs: lease, clock: frozen }).register(mine.wf);
    const dead = scene.engine({ nodeId: 'node-dead', leaseMs: lease, clock: frozen }).register(mine.wf);
    await before.start(mine.wf, 1, { workflowId: 'own-1' });
    await dead.start(mine.wf, 2, { workflowId: 'dead-1' });
    await until(() => mine.calls.get('own-1:b') === 1 && mine.calls.get('dead-1:b') === 1, 'both hang');

    const sup = scene.supervisor({
      nodeId: 'node-a',
      leaseMs: lease,
      scanIntervalMs: 1000,
      workflows: [mine.wf],
    });
    await sup.start();
    await until(async () => (await serverIds(sup)).includes('own-1'), 'its own run is resumed');
    expect(await serverIds(sup)).toEqual(['own-1']);
    expect((await sup.engine.get('dead-1'))?.owner).toBe('node-dead');

    await scene.clock.advance(lease); // the dead node's lease ends; the next scan finds the run
    expect((await sup.engine.get('dead-1'))?.owner).toBe('node-dead');
    await scene.clock.advance(1000);
    await until(
      () => mine.calls.get('dead-1:b') === 2 && mine.calls.get('own-1:b') === 2,
      'the dead node’s run is taken over (and its own run resumed)',
    );
    expect((await sup.engine.get('dead-1'))?.owner).toBe('node-a');
    for (const id of ['own-1', 'dead-1']) mine.gate(id).resolve();
    expect(await sup.engine.result('own-1')).toBe(20);
    expect(await sup.engine.result('dead-1')).toBe(30);
    // Resumed from their journals: the first step ran once, the interrupted one again.
    expect(mine.calls.get('own-1:a')).toBe(1);
    expect(mine.calls.get('dead-1:a')).toBe(1);
    expect(mine.calls.get('own-1:b')).toBe(2);
    expect((await sup.engine.get('dead-1'))?.owner).toBe('node-a');
  });

  it('a killed WorkflowServer is restarted and resumes its run from its journal; the others are untouched', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate, calls } = gatedWorkflow('crashy');
    const sup = scene.supervisor({ workflows: [wf] });
    await sup.start();
    const ids = await startRuns(scene, (id, n) => sup.engine.start(wf, n, { workflowId: id }), 'k', 3);
    await until(() => ids.every((id) => calls.get(`${id}:b`) === 1), 'every run is in its second step');
    const before = await sup.servers();
    const victim = before.find((s) => s.workflowId === 'k-2')!;

    scene.runtime.exit(victim.pid, 'kill');
    await until(() => calls.get('k-2:b') === 2, 'the restarted server runs the interrupted step again');
    const after = await sup.servers();
    expect(after.find((s) => s.workflowId === 'k-2')?.pid).not.toBe(victim.pid);
    for (const id of ['k-1', 'k-3']) {
      expect(after.find((s) => s.workflowId === id)?.pid).toBe(before.find((s) => s.workflowId === id)?.pid);
    }
    expect(
      scene.events.filter((e) => e.type === 'restart').map((e) => e.type === 'restart' && e.childId),
    ).toEqual(['k-2']);

    for (const id of ids) gate(id).resolve();
    expect(await Promise.all(ids.map((id) => sup.engine.result(id)))).toEqual([20, 30, 40]);
    // Finished steps never ran again; only the step the crash interrupted did (at least once).
    expect(Object.fromEntries([...calls].sort())).toEqual({
      'k-1:a': 1,
      'k-1:b': 1,
      'k-1:c': 1,
      'k-2:a': 1,
      'k-2:b': 2,
      'k-2:c': 1,
      'k-3:a': 1,
      'k-3:b': 1,
      'k-3:c': 1,
    });
    const steps = await sup.engine.steps('k-2');
    expect(steps.map((s) => [s.index, s.name, s.status])).toEqual([
      [0, 'a', 'completed'],
      [1, 'b', 'completed'],
      [2, 'c', 'completed'],
    ]);
  });

  it('a killed launcher loses nothing: servers keep running, and runs started meanwhile get servers', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate } = gatedWorkflow('steady');
    const sup = scene.supervisor({ workflows: [wf] });
    await sup.start();
    await sup.engine.start(wf, 1, { workflowId: 's-1' });
    await until(async () => (await serverIds(sup)).length === 1, 's-1 has a server');
    const server = (await sup.servers())[0]!.pid;

    scene.runtime.exit('workflows.launcher', 'kill');
    await sup.engine.start(wf, 2, { workflowId: 's-2' });
    await until(async () => (await serverIds(sup)).length === 2, 's-2 gets a server');
    expect((await sup.servers()).find((s) => s.workflowId === 's-1')?.pid).toBe(server);
    gate('s-1').resolve();
    gate('s-2').resolve();
    expect(await sup.engine.result('s-1')).toBe(20);
    expect(await sup.engine.result('s-2')).toBe(30);
  });

  it('children start past the limit, so a full node never waits for its own runs’ children', async () => {
    const scene = await scenes.create(adapter);
    const child = defineWorkflow('child', async (ctx, n: number) => ctx.step('double', async () => n * 2));
    const parent = defineWorkflow('parent', async (ctx, n: number) => {
      const [x, y] = await Promise.all([ctx.child(child, n), ctx.child(child, n + 1)]);
      return x + y;
    });
    const sup = scene.supervisor({ maxRunning: 1 });
    sup.register(child, parent);
    await sup.start();
    await sup.engine.start(parent, 1, { workflowId: 'p-1' });
    await sup.engine.start(parent, 10, { workflowId: 'p-2' });
    expect(await sup.engine.result('p-1')).toBe(6);
    expect(await sup.engine.result('p-2')).toBe(42);
    expect(await scene.statuses()).toEqual({ completed: 6 });
  });

  it('a paused run resumed here, and a waiting run cancelled here, go through the supervisor', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate, calls } = gatedWorkflow('controlled');
    const sup = scene.supervisor({ maxRunning: 1, workflows: [wf] });
    await sup.start();
    await sup.engine.start(wf, 1, { workflowId: 'c-1' });
    await until(() => calls.get('c-1:b') === 1, 'c-1 runs its second step');
    await sup.engine.pause('c-1');
    gate('c-1').resolve();
    await until(async () => (await sup.engine.get('c-1'))?.status === 'paused', 'c-1 pauses');
    await until(async () => (await serverIds(sup)).length === 0, 'its server ends');

    await sup.engine.start(wf, 2, { workflowId: 'c-2' });
    await until(() => calls.get('c-2:b') === 1, 'c-2 takes the slot');
    await sup.engine.resume('c-1');
    // The slot is taken: the resumed run waits its turn, pending.
    expect((await sup.engine.get('c-1'))?.status).toBe('pending');
    expect(await serverIds(sup)).toEqual(['c-2']);
    await sup.engine.cancel('c-2');
    gate('c-2').resolve(); // its step ignores the abort signal; the cancel takes effect when it returns
    await expect(sup.engine.result('c-2')).rejects.toMatchObject({ code: 'workflow_cancelled' });
    await until(async () => (await serverIds(sup)).includes('c-1'), 'c-1 gets the freed slot');
    expect(await sup.engine.result('c-1')).toBe(20);
  });

  it('a node with every slot taken leaves new runs to a node with room', async () => {
    const scene = await scenes.create(adapter);
    const { wf, gate } = gatedWorkflow('shared');
    const defs = [wf];
    const full = scene.supervisor({ id: 'full', nodeId: 'node-full', maxRunning: 1, workflows: defs });
    const roomy = scene.supervisor({
      id: 'roomy',
      nodeId: 'node-roomy',
      maxRunning: 10,
      store: await scene.openAgain(),
      workflows: defs,
    });
    await full.start();
    await full.engine.start(wf, 1, { workflowId: 'f-1' });
    await until(async () => (await serverIds(full)).length === 1, 'the first node is full');
    await roomy.start();
    await full.engine.start(wf, 2, { workflowId: 'f-2' });
    await full.engine.start(wf, 3, { workflowId: 'f-3' });
    // PostgreSQL wakes the other node at once; a SQLite file shared by two stores is found by its scan.
    await scene.clock.advance(30_000);
    const owner = async (id: string) => (await full.engine.get(id))?.owner;
    await until(
      async () => (await owner('f-2')) === 'node-roomy' && (await owner('f-3')) === 'node-roomy',
      'the other node takes both over',
    );
    expect(await serverIds(roomy)).toEqual(['f-2', 'f-3']);
    for (const id of ['f-1', 'f-2', 'f-3']) gate(id).resolve();
    expect(await full.engine.result('f-1')).toBe(20);
    expect(await roomy.engine.result('f-2')).toBe(30);
    expect(await roomy.engine.result('f-3')).toBe(40);
    const owners = await Promise.all(['f-1', 'f-2', 'f-3'].map(owner));
    expect(owners).toEqual(['node-full', 'node-roomy', 'node-roomy']);
  });

  it('rejects bad options with a specific error', async () => {
    const scene = await scenes.create(adapter);
    const bad = (o: Partial<WorkflowSupervisorOptions>) => () =>
      createWorkflowSupervisor({ runtime: scene.runtime, store: scene.store, nodeId: 'n', ...o });
    expect(bad({ maxRunning: 0 })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(bad({ maxRunning: 0 })).toThrow(/maxRunning/);
    expect(bad({ nodeId: '' })).toThrow(/nodeId/);
    expect(bad({ scanIntervalMs: -1 })).toThrow(/scanIntervalMs/);
  });
});
