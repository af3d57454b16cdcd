import { describe, expect, it } from 'vitest';
import {
  DynamicSupervisor,
  type ChildSpec,
  type ExitReason,
  type RestartType,
  type Runtime,
} from '../../src/runtime/index.js';
import { harness, worker } from './support.js';

function spec(rt: Runtime, log: string[], id: string, restart: RestartType = 'permanent'): ChildSpec {
  return { id, restart, start: (o) => rt.spawn(worker(log, id), undefined, { ...o, name: id }) };
}

describe('DynamicSupervisor', () => {
  it('starts children at run time and lists them', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents' });
    expect(await sup.countChildren()).toBe(0);
    const a = await sup.startChild(spec(h.rt, log, 'a'));
    const b = await sup.startChild(spec(h.rt, log, 'b'));
    expect(await sup.whichChildren()).toEqual([
      { id: 'a', pid: a, type: 'worker', restart: 'permanent' },
      { id: 'b', pid: b, type: 'worker', restart: 'permanent' },
    ]);
    expect(h.rt.info(a)?.parent).toBe(sup.pid);
  });

  it('refuses a child past maxChildren with max_children', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents', maxChildren: 2 });
    await sup.startChild(spec(h.rt, log, 'a'));
    const b = await sup.startChild(spec(h.rt, log, 'b'));
    await expect(sup.startChild(spec(h.rt, log, 'c'))).rejects.toMatchObject({
      code: 'max_children',
      retryable: true,
    });
    expect(log).toEqual(['start a', 'start b']);
    await sup.terminateChild(b);
    await expect(sup.startChild(spec(h.rt, log, 'c'))).resolves.toBeDefined();
  });

  it('restarts a crashed child by its restart type', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents' });
    await sup.startChild(spec(h.rt, log, 'perm'));
    await sup.startChild(spec(h.rt, log, 'trans', 'transient'));
    await sup.startChild(spec(h.rt, log, 'tmp', 'temporary'));
    for (const name of ['perm', 'trans', 'tmp']) await h.rt.call(name, 'crash').catch(() => undefined);
    await h.settle();
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['perm', 'trans']);
    await h.rt.call('trans', 'finish');
    await h.settle();
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['perm']);
    expect(h.ofType('restart').map((e) => e.childId)).toEqual(['perm', 'trans']);
  });

  it('gives up past its restart intensity', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents', maxRestarts: 1, periodMs: 1000 });
    const reasons: ExitReason[] = [];
    h.rt.monitor(sup.pid!, (d) => reasons.push(d.reason));
    await sup.startChild(spec(h.rt, log, 'w'));
    await sup.startChild(spec(h.rt, log, 'other'));
    await h.rt.call('w', 'crash').catch(() => undefined);
    await h.settle();
    await h.rt.call('w', 'crash').catch(() => undefined);
    await h.settle();
    expect(reasons).toEqual(['reached_max_restart_intensity']);
    expect(h.rt.processCount).toBe(0);
  });

  it('terminateChild stops a child for good; an unknown pid is child_not_found', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents' });
    const a = await sup.startChild(spec(h.rt, log, 'a'));
    await sup.terminateChild(a);
    await h.settle();
    expect(log).toEqual(['start a', 'stop a shutdown']);
    expect(await sup.countChildren()).toBe(0);
    await expect(sup.terminateChild(a)).rejects.toMatchObject({ code: 'child_not_found' });
  });

  it('reports a child that fails to start with child_start_failed and keeps running', async () => {
    const h = harness();
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents' });
    await expect(
      sup.startChild({ id: 'bad', start: () => Promise.reject(new Error('nope')) }),
    ).rejects.toMatchObject({
      code: 'child_start_failed',
    });
    expect(h.rt.isAlive(sup.pid!)).toBe(true);
  });

  it('stops all its children when it stops', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(h.rt, { id: 'agents' });
    for (const id of ['a', 'b', 'c']) await sup.startChild(spec(h.rt, log, id));
    await sup.stop();
    expect(log.filter((l) => l.startsWith('stop')).sort()).toEqual([
      'stop a shutdown',
      'stop b shutdown',
      'stop c shutdown',
    ]);
    expect(h.rt.processCount).toBe(0);
  });

  it('validates its spec and child specs', async () => {
    const h = harness();
    await expect(DynamicSupervisor.start(h.rt, { id: 'x', maxChildren: -1 })).rejects.toThrow(/maxChildren/);
    const sup = await DynamicSupervisor.start(h.rt, { id: 'x' });
    await expect(sup.startChild({ id: 'x', start: 'nope' as never })).rejects.toThrow(
      /start must be a function/,
    );
  });
});
