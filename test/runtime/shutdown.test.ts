import { describe, expect, it } from 'vitest';
import {
  Supervisor,
  type ChildSpec,
  type ExitReason,
  type Runtime,
  type ChildShutdown,
} from '../../src/runtime/index.js';
import { harness, worker } from './support.js';

const never = new Promise<void>(() => undefined);

function child(rt: Runtime, log: string[], id: string, shutdownMs: ChildShutdown, hang = false): ChildSpec {
  return {
    id,
    shutdownMs,
    start: (o) => rt.spawn(worker(log, id, hang ? never : undefined), undefined, { ...o, name: id }),
  };
}

describe('supervisor shutdown', () => {
  it('stops children in reverse start order, each after the previous is gone', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: ['a', 'b', 'c'].map((id) => child(h.rt, log, id, 5000)),
    });
    await expect(sup.stop()).resolves.toBe('shutdown');
    expect(log).toEqual([
      'start a',
      'start b',
      'start c',
      'stop c shutdown',
      'stop b shutdown',
      'stop a shutdown',
    ]);
    expect(h.rt.processCount).toBe(0);
  });

  it('kills a child whose terminate outlasts its shutdown time, then goes on with the next', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: [
        child(h.rt, log, 'a', 5000),
        child(h.rt, log, 'slow', 3000, true),
        child(h.rt, log, 'c', 5000),
      ],
    });
    const slow = h.rt.whereis('slow')!;
    const reasons: ExitReason[] = [];
    h.rt.monitor(slow, (d) => reasons.push(d.reason));
    let stopped = false;
    const stopping = sup.stop().then(() => (stopped = true));
    await h.settle();
    expect(log.slice(3)).toEqual(['stop c shutdown', 'stop slow shutdown']);
    await h.clock.advance(2999);
    expect(stopped).toBe(false);
    expect(log).not.toContain('stop a shutdown'); // a waits for slow
    await h.clock.advance(1);
    await stopping;
    expect(reasons).toEqual(['killed']);
    expect(log.at(-1)).toBe('stop a shutdown');
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('kills a brutal_kill child at once, without its terminate', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: [child(h.rt, log, 'a', 5000), child(h.rt, log, 'brutal', 'brutal_kill')],
    });
    await sup.stop();
    expect(log).toEqual(['start a', 'start brutal', 'stop a shutdown']);
  });

  it('waits for a child with infinity as long as its terminate takes', async () => {
    const h = harness();
    const log: string[] = [];
    let release!: () => void;
    const slowTerminate = new Promise<void>((r) => (release = r));
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      children: [
        {
          id: 'w',
          shutdownMs: 'infinity',
          start: (o) => h.rt.spawn(worker(log, 'w', slowTerminate), undefined, o),
        },
      ],
    });
    let stopped = false;
    const stopping = sup.stop().then(() => (stopped = true));
    await h.clock.advance(24 * 3600 * 1000);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(log).toEqual(['start w', 'stop w shutdown']);
  });

  it('shuts down a nested tree depth first, in reverse order at each level', async () => {
    const h = harness();
    const log: string[] = [];
    const inner = Supervisor.childSpec(h.rt, {
      id: 'inner',
      children: [child(h.rt, log, 'i1', 5000), child(h.rt, log, 'i2', 5000)],
    });
    const sup = await Supervisor.start(h.rt, {
      id: 'outer',
      children: [child(h.rt, log, 'first', 5000), inner, child(h.rt, log, 'last', 5000)],
    });
    expect(log).toEqual(['start first', 'start i1', 'start i2', 'start last']);
    log.length = 0;
    await sup.stop();
    expect(log).toEqual([
      'stop last shutdown',
      'stop i2 shutdown',
      'stop i1 shutdown',
      'stop first shutdown',
    ]);
  });

  it('a killed supervisor takes its linked children with it', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, { id: 'root', children: [child(h.rt, log, 'a', 5000)] });
    h.rt.kill(sup.pid!);
    await h.settle();
    expect(h.rt.processCount).toBe(0);
    expect(log).toEqual(['start a', 'stop a killed']);
  });

  it('leaves no monitor, timer or process behind after restarts and a shutdown', async () => {
    const h = harness();
    const log: string[] = [];
    const sup = await Supervisor.start(h.rt, {
      id: 'root',
      strategy: 'one_for_all',
      maxRestarts: 10,
      children: ['a', 'b', 'c'].map((id) => child(h.rt, log, id, 5000)),
    });
    for (const id of ['a', 'c', 'b']) {
      await h.rt.call(id, 'crash').catch(() => undefined);
      await h.settle();
    }
    expect(h.rt.monitorsOlderThan(0)).toEqual([]);
    await sup.stop();
    expect(h.rt.processCount).toBe(0);
    expect(h.rt.monitorCount).toBe(0);
    expect(h.clock.pendingTimers).toBe(0);
  });
});
