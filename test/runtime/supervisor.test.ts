import { describe, expect, it } from 'vitest';
import {
  Supervisor,
  type ChildSpec,
  type ExitReason,
  type RestartType,
  type Runtime,
  type SupervisorStrategy,
} from '../../src/runtime/index.js';
import { anError, harness, like, worker } from './support.js';

function child(rt: Runtime, log: string[], id: string, restart: RestartType = 'permanent'): ChildSpec {
  return { id, restart, start: (o) => rt.spawn(worker(log, id), undefined, { ...o, name: id }) };
}

async function tree(strategy: SupervisorStrategy, ids = ['a', 'b', 'c']) {
  const h = harness();
  const log: string[] = [];
  const sup = await Supervisor.start(h.rt, {
    id: 'root',
    strategy,
    children: ids.map((id) => child(h.rt, log, id)),
  });
  return { ...h, log, sup };
}

async function crash(h: { rt: Runtime; settle: () => Promise<void> }, name: string): Promise<void> {
  await h.rt.call(name, 'crash').catch(() => undefined);
  await h.settle();
}

describe('Supervisor', () => {
  it('starts its children in order and lists them', async () => {
    const { sup, log, rt } = await tree('one_for_one');
    expect(log).toEqual(['start a', 'start b', 'start c']);
    const children = await sup.whichChildren();
    expect(children.map((c) => [c.id, c.pid])).toEqual([
      ['a', rt.whereis('a')],
      ['b', rt.whereis('b')],
      ['c', rt.whereis('c')],
    ]);
    expect(rt.info('a')?.parent).toBe(sup.pid);
  });

  it('one_for_one restarts only the child that crashed', async () => {
    const h = await tree('one_for_one');
    const before = { a: h.rt.whereis('a'), b: h.rt.whereis('b'), c: h.rt.whereis('c') };
    h.log.length = 0;
    await crash(h, 'b');
    expect(h.log).toEqual(['stop b error', 'start b']);
    expect(h.rt.whereis('a')).toBe(before.a);
    expect(h.rt.whereis('c')).toBe(before.c);
    expect(h.rt.whereis('b')).not.toBe(before.b);
    expect(h.ofType('restart')).toEqual([
      like({
        childId: 'b',
        oldPid: before.b,
        newPid: h.rt.whereis('b'),
        reason: { error: anError() },
      }),
    ]);
  });

  it('one_for_all stops the others in reverse order and starts all again in order', async () => {
    const h = await tree('one_for_all');
    const a = h.rt.whereis('a');
    h.log.length = 0;
    await crash(h, 'b');
    expect(h.log).toEqual([
      'stop b error',
      'stop c shutdown',
      'stop a shutdown',
      'start a',
      'start b',
      'start c',
    ]);
    expect(h.rt.whereis('a')).not.toBe(a);
  });

  it('rest_for_one restarts the crashed child and those started after it', async () => {
    const h = await tree('rest_for_one', ['a', 'b', 'c', 'd']);
    const a = h.rt.whereis('a');
    h.log.length = 0;
    await crash(h, 'b');
    expect(h.log).toEqual([
      'stop b error',
      'stop d shutdown',
      'stop c shutdown',
      'start b',
      'start c',
      'start d',
    ]);
    expect(h.rt.whereis('a')).toBe(a);
  });

  it('restarts a permanent child after any exit, even a normal one', async () => {
    const h = harness();
    const log: string[] = [];
    await Supervisor.start(h.rt, { id: 'root', children: [child(h.rt, log, 'p', 'permanent')] });
    await h.rt.call('p', 'finish');
    await h.settle();
    expect(log).toEqual(['start p', 'stop p normal', 'start p']);
  });

  it('restarts a transient child after a crash but not after a normal exit', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, { id: 'root', children: [child(h.rt, log, 't', 'transient')] });
    await crash(h, 't');
    expect(log).toEqual(['start t', 'stop t error', 'start t']);
    await h.rt.call('t', 'finish');
    await h.settle();
    expect(log.at(-1)).toBe('stop t normal');
    expect(await sup.whichChildren()).toEqual([
      { id: 't', pid: undefined, type: 'worker', restart: 'transient' },
    ]);
    // It stays in the spec and can be started again on demand.
    const pid = await sup.restartChild('t');
    expect(h.rt.whereis('t')).toBe(pid);
  });

  it('never restarts a temporary child and forgets it when it exits', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: [child(h.rt, log, 'keep'), child(h.rt, log, 'tmp', 'temporary')],
    });
    await crash(h, 'tmp');
    expect(log).toEqual(['start keep', 'start tmp', 'stop tmp error']);
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['keep']);
  });

  it('does not restart a temporary child with its group under one_for_all', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      strategy: 'one_for_all',
      children: [child(h.rt, log, 'a'), child(h.rt, log, 'tmp', 'temporary'), child(h.rt, log, 'c')],
    });
    log.length = 0;
    await crash(h, 'c');
    expect(log).toEqual(['stop c error', 'stop tmp shutdown', 'stop a shutdown', 'start a', 'start c']);
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['a', 'c']);
  });

  it('gives up past its restart intensity: it stops its children and exits with reached_max_restart_intensity', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      maxRestarts: 2,
      periodMs: 1000,
      children: [child(h.rt, log, 'a'), child(h.rt, log, 'flaky')],
    });
    const reasons: ExitReason[] = [];
    h.rt.monitor(sup.pid!, (d) => reasons.push(d.reason));
    await crash(h, 'flaky');
    await h.clock.advance(100);
    await crash(h, 'flaky');
    expect(h.rt.isAlive(sup.pid!)).toBe(true);
    await crash(h, 'flaky');
    expect(reasons).toEqual(['reached_max_restart_intensity']);
    expect(log.slice(-2)).toEqual(['stop flaky error', 'stop a shutdown']);
    expect(h.rt.processCount).toBe(0);
    expect(h.ofType('max_restart_intensity')).toEqual([like({ maxRestarts: 2, periodMs: 1000 })]);
  });

  it('counts restarts in a sliding window of the clock', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      maxRestarts: 1,
      periodMs: 1000,
      children: [child(h.rt, log, 'a')],
    });
    for (let i = 0; i < 5; i++) {
      await crash(h, 'a');
      await h.clock.advance(1000);
    }
    expect(h.rt.isAlive(sup.pid!)).toBe(true);
    expect(log.filter((l) => l === 'start a')).toHaveLength(6);
  });

  it('escalates to its parent, which restarts it (and its children) by its own strategy', async () => {
    const h = harness();
    const log: string[] = [];
    const inner = Supervisor.childSpec(
      h.rt,
      { id: 'inner', maxRestarts: 1, periodMs: 1000, children: [child(h.rt, log, 'w')] },
      { name: 'inner' },
    );
    const outer = await Supervisor.start(h.rt, {
      id: 'outer',
      maxRestarts: 3,
      periodMs: 1000,
      children: [child(h.rt, log, 'sibling'), inner],
    });
    const innerPid = h.rt.whereis('inner');
    await crash(h, 'w');
    await crash(h, 'w'); // the second crash within the period exceeds inner's intensity
    expect(h.rt.whereis('inner')).not.toBe(innerPid);
    expect(h.ofType('restart').at(-1)).toMatchObject({
      supervisor: outer.pid,
      childId: 'inner',
      reason: 'reached_max_restart_intensity',
    });
    expect(log).toEqual(['start sibling', 'start w', 'stop w error', 'start w', 'stop w error', 'start w']);
  });

  it('escalation past the top supervisor ends the whole tree with the reason', async () => {
    const h = harness();
    const log: string[] = [];
    const inner = Supervisor.childSpec(h.rt, {
      id: 'inner',
      maxRestarts: 0,
      children: [child(h.rt, log, 'w')],
    });
    const top = await Supervisor.start(h.rt, { id: 'top', maxRestarts: 0, children: [inner] });
    const reasons: ExitReason[] = [];
    h.rt.monitor(top.pid!, (d) => reasons.push(d.reason));
    await crash(h, 'w');
    expect(reasons).toEqual(['reached_max_restart_intensity']);
    expect(h.rt.processCount).toBe(0);
  });

  it('retries a restart whose start fails, counting each try toward the intensity', async () => {
    const h = harness();
    const log: string[] = [];
    let failing = false;
    const spec: ChildSpec = {
      id: 'w',
      start: (o) =>
        failing
          ? Promise.reject(new Error('cannot start'))
          : h.rt.spawn(worker(log, 'w'), undefined, { ...o, name: 'w' }),
    };
    const sup = await Supervisor.start(h.rt, { id: 'root', maxRestarts: 3, children: [spec] });
    const reasons: ExitReason[] = [];
    h.rt.monitor(sup.pid!, (d) => reasons.push(d.reason));
    failing = true;
    await crash(h, 'w');
    expect(h.ofType('restart_failed').length).toBe(3);
    expect(reasons).toEqual(['reached_max_restart_intensity']);
  });

  it('terminateChild stops a child without restarting it; restartChild starts it again', async () => {
    const h = await tree('one_for_one');
    h.log.length = 0;
    await h.sup.terminateChild('b');
    expect(h.log).toEqual(['stop b shutdown']);
    expect((await h.sup.whichChildren())[1]).toMatchObject({ id: 'b', pid: undefined });
    await expect(h.sup.restartChild('a')).rejects.toMatchObject({ code: 'child_running' });
    await expect(h.sup.restartChild('zz')).rejects.toMatchObject({ code: 'child_not_found' });
    await expect(h.sup.terminateChild('zz')).rejects.toMatchObject({ code: 'child_not_found' });
    const b = await h.sup.restartChild('b');
    expect(h.rt.whereis('b')).toBe(b);
    expect(h.ofType('restart')).toEqual([]);
  });

  it('fails to start when a child fails to start, stopping the ones already started in reverse order', async () => {
    const h = harness();
    const log: string[] = [];
    const broken: ChildSpec = { id: 'broken', start: () => Promise.reject(new Error('no config')) };
    const error = await Supervisor.start(h.rt, {
      id: 'root',
      children: [child(h.rt, log, 'a'), child(h.rt, log, 'b'), broken, child(h.rt, log, 'd')],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'init_failed',
      cause: like({ code: 'child_start_failed' }),
    });
    expect(log).toEqual(['start a', 'start b', 'stop b shutdown', 'stop a shutdown']);
    expect(h.rt.processCount).toBe(0);
  });

  it('links a child whose start function did not pass the link options', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: [
        { id: 'loose', start: () => h.rt.spawn(worker(log, 'loose'), undefined, { name: 'loose' }) },
      ],
    });
    expect(h.rt.info('loose')?.links).toBe(1);
    await crash(h, 'loose');
    expect(log).toEqual(['start loose', 'stop loose error', 'start loose']);
    await sup.stop();
  });

  it('validates its spec', async () => {
    const h = harness();
    await expect(
      Supervisor.start(h.rt, { id: 'x', strategy: 'one_for_some' as never, children: [] }),
    ).rejects.toThrow(/strategy/);
    const c = child(h.rt, [], 'dup');
    await expect(Supervisor.start(h.rt, { id: 'x', children: [c, c] })).rejects.toThrow(
      /two children have the id dup/,
    );
  });
});
