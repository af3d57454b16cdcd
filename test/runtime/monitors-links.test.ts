import { describe, expect, it } from 'vitest';
import { Pid, isDown, type DownMessage, type ExitReason } from '../../src/runtime/index.js';
import { harness, like, recorder } from './support.js';

async function inbox(rt: ReturnType<typeof harness>['rt'], pid: Pid): Promise<unknown[]> {
  return rt.call<unknown[]>(pid, { op: 'get' });
}

describe('monitors', () => {
  it('deliver one DOWN message with the exit reason to the watching process', async () => {
    const { rt, settle } = harness();
    const watcher = await rt.spawn(recorder(), undefined);
    const target = await rt.spawn(recorder(), undefined);
    const ref = rt.monitor(target, watcher);
    expect(ref.active).toBe(true);
    await rt.call(target, { op: 'stop', reason: 'shutdown' });
    await settle();
    expect(await inbox(rt, watcher)).toEqual([{ type: 'DOWN', ref, target, reason: 'shutdown' }]);
    expect(ref.active).toBe(false);
    expect(rt.monitorCount).toBe(0);
  });

  it('are one-way: the watcher dying does not touch the target, and releases its monitor', async () => {
    const { rt } = harness();
    const watcher = await rt.spawn(recorder(), undefined);
    const target = await rt.spawn(recorder(), undefined);
    const ref = rt.monitor(target, watcher);
    rt.kill(watcher);
    expect(rt.isAlive(target)).toBe(true);
    expect(ref.active).toBe(false);
    expect(rt.info(target)?.monitoredBy).toBe(0);
  });

  it('of a dead pid give DOWN noproc at once', async () => {
    const { rt, settle } = harness();
    const watcher = await rt.spawn(recorder(), undefined);
    const gone = await rt.spawn(recorder(), undefined);
    rt.kill(gone);
    const ref = rt.monitor(gone, watcher);
    expect(ref.active).toBe(false);
    await settle();
    expect(await inbox(rt, watcher)).toEqual([{ type: 'DOWN', ref, target: gone, reason: 'noproc' }]);
    const seen: DownMessage[] = [];
    rt.monitor('never-registered', (d) => seen.push(d));
    await settle();
    expect(seen).toEqual([like({ target: 'never-registered', reason: 'noproc' })]);
  });

  it('can watch with a callback (how an owner of timers learns its process died)', async () => {
    const { rt } = harness();
    const target = await rt.spawn(recorder(), undefined);
    const reasons: ExitReason[] = [];
    rt.monitor(target, (d) => reasons.push(d.reason), { label: 'timers' });
    expect(rt.monitorsOlderThan(0)).toEqual([like({ target, watcher: 'timers' })]);
    await rt.call(target, { op: 'crash', message: 'x' }).catch(() => undefined);
    expect(reasons).toEqual([{ error: like({ message: 'x' }) }]);
  });

  it('are released by demonitor, and a DOWN already queued is not delivered', async () => {
    const { rt, settle } = harness();
    const watcher = await rt.spawn(
      {
        ...recorder(),
        handleCall(msg: { op: string; target: Pid }, _from, state: unknown[], ctx) {
          if (msg.op !== 'kill-then-demonitor') return { reply: state, state };
          // The DOWN is queued while this handler runs; demonitor must drop it.
          const ref = ctx.monitor(msg.target);
          ctx.runtime.kill(msg.target);
          return { reply: ctx.demonitor(ref), state };
        },
      },
      undefined,
    );
    const target = await rt.spawn(recorder(), undefined);
    const ref = rt.monitor(target, watcher);
    expect(rt.demonitor(ref)).toBe(true);
    expect(rt.demonitor(ref)).toBe(false);
    expect(rt.monitorCount).toBe(0);
    await expect(rt.call(watcher, { op: 'kill-then-demonitor', target })).resolves.toBe(false);
    await settle();
    expect(await rt.call(watcher, { op: 'get', target })).toEqual([]);
  });

  it('older than an age are listed by the leak check, which also reports them as events', async () => {
    const { rt, clock, ofType } = harness();
    const watcher = await rt.spawn(recorder(), undefined);
    const a = await rt.spawn(recorder(), undefined);
    const b = await rt.spawn(recorder(), undefined);
    const old = rt.monitor(a, watcher);
    await clock.advance(60_000);
    rt.monitor(b, watcher);
    await clock.advance(1_000);
    expect(rt.monitorsOlderThan(30_000)).toEqual([
      { id: old.id, target: a, watcher, createdAt: clock.now() - 61_000, ageMs: 61_000 },
    ]);
    expect(rt.monitorsOlderThan(0)).toHaveLength(2);
    expect(rt.checkMonitorLeaks(30_000)).toHaveLength(1);
    expect(ofType('monitor_leak')).toEqual([like({ monitor: like({ id: old.id }) })]);
    rt.demonitor(old);
    expect(rt.monitorsOlderThan(30_000)).toEqual([]);
  });

  it('report a DOWN callback that throws as an event and keep going', async () => {
    const { rt, ofType } = harness();
    const target = await rt.spawn(recorder(), undefined);
    const seen: string[] = [];
    rt.monitor(target, () => {
      throw new Error('bad watcher');
    });
    rt.monitor(target, () => seen.push('second'));
    rt.kill(target);
    expect(seen).toEqual(['second']);
    expect(ofType('watcher_failed')).toEqual([like({ target, error: like({ message: 'bad watcher' }) })]);
  });
});

describe('links', () => {
  it('take a linked process down with the same reason when one crashes', async () => {
    const { rt, settle } = harness();
    const terminated: Array<{ pid: Pid; reason: ExitReason }> = [];
    const a = await rt.spawn(recorder(terminated), undefined);
    const b = await rt.spawn(recorder(terminated), undefined);
    const bystander = await rt.spawn(recorder(terminated), undefined);
    rt.link(a, b);
    await rt.call(a, { op: 'crash', message: 'linked' }).catch(() => undefined);
    await settle();
    expect(rt.isAlive(b)).toBe(false);
    expect(rt.isAlive(bystander)).toBe(true);
    expect(terminated).toEqual([
      { pid: a, reason: { error: like({ message: 'linked' }) } },
      { pid: b, reason: { error: like({ message: 'linked' }) } },
    ]);
  });

  it('are bidirectional', async () => {
    const { rt, settle } = harness();
    const a = await rt.spawn(recorder(), undefined);
    const b = await rt.spawn(recorder(), undefined);
    rt.link(a, b);
    rt.exit(b, 'shutdown');
    await settle();
    expect(rt.isAlive(a)).toBe(false);
  });

  it('ignore a normal exit of the linked process', async () => {
    const { rt, settle } = harness();
    const a = await rt.spawn(recorder(), undefined);
    const b = await rt.spawn(recorder(), undefined);
    rt.link(a, b);
    await rt.call(a, { op: 'stop', reason: 'normal' });
    await settle();
    expect(rt.isAlive(b)).toBe(true);
    expect(rt.info(b)?.links).toBe(0);
  });

  it('turn into EXIT messages for a process that traps exits', async () => {
    const { rt, settle } = harness();
    const trapper = await rt.spawn(recorder(), undefined, { trapExit: true });
    const a = await rt.spawn(recorder(), undefined);
    rt.link(trapper, a);
    rt.kill(a);
    await settle();
    expect(rt.isAlive(trapper)).toBe(true);
    expect(await inbox(rt, trapper)).toEqual([{ type: 'EXIT', from: a, reason: 'killed' }]);
  });

  it('can be removed with unlink', async () => {
    const { rt, settle } = harness();
    const a = await rt.spawn(recorder(), undefined);
    const b = await rt.spawn(recorder(), undefined);
    rt.link(a, b);
    rt.unlink(b, a);
    rt.kill(a);
    await settle();
    expect(rt.isAlive(b)).toBe(true);
  });

  it('to a dead process send noproc to a trapping process, and fail for one that does not trap', async () => {
    const { rt, settle } = harness();
    const trapper = await rt.spawn(recorder(), undefined, { trapExit: true });
    const plain = await rt.spawn(recorder(), undefined);
    const gone = await rt.spawn(recorder(), undefined);
    rt.kill(gone);
    rt.link(trapper, gone);
    await settle();
    expect(await inbox(rt, trapper)).toEqual([{ type: 'EXIT', from: gone, reason: 'noproc' }]);
    expect(() => rt.link(plain, gone)).toThrow(like({ code: 'noproc' }));
  });

  it('an untrappable kill ends even a trapping process at once', async () => {
    const { rt } = harness();
    const terminated: Array<{ pid: Pid; reason: ExitReason }> = [];
    const trapper = await rt.spawn(recorder(terminated), undefined, { trapExit: true });
    rt.exit(trapper, 'kill');
    expect(rt.isAlive(trapper)).toBe(false);
    expect(terminated).toEqual([]); // killed: no terminate
  });

  it('a trapped exit signal from outside arrives as an EXIT message without a sender', async () => {
    const { rt, settle } = harness();
    const trapper = await rt.spawn(recorder(), undefined, { trapExit: true });
    expect(rt.exit(trapper, 'shutdown')).toBe(true);
    await settle();
    const got = await inbox(rt, trapper);
    expect(got).toEqual([{ type: 'EXIT', from: undefined, reason: 'shutdown' }]);
    expect(isDown(got[0])).toBe(false);
  });

  it('spawnLink links a child to the process that spawned it', async () => {
    const { rt, settle } = harness();
    const parent = await rt.spawn(
      {
        init: () => undefined as Pid | undefined,
        async handleCall(_msg, _from, _state, ctx) {
          const child = await ctx.spawnLink(recorder(), undefined);
          return { reply: child, state: child };
        },
      },
      undefined,
    );
    const child = await rt.call<Pid>(parent, 'spawn');
    expect(rt.info(child)?.parent).toBe(parent);
    rt.exit(parent, 'shutdown');
    await settle();
    expect(rt.isAlive(child)).toBe(false);
  });

  it('an exit signal from its own parent ends even a trapping process, with terminate', async () => {
    const { rt, settle } = harness();
    const terminated: Array<{ pid: Pid; reason: ExitReason }> = [];
    const parent = await rt.spawn(recorder(), undefined);
    const child = await rt.spawn(recorder(terminated), undefined, { link: parent, trapExit: true });
    const stranger = await rt.spawn(recorder(), undefined);
    rt.link(child, stranger);
    rt.exit(stranger, 'shutdown'); // from a non-parent: trapped as a message
    await settle();
    expect(rt.isAlive(child)).toBe(true);
    await rt.call(parent, { op: 'stop', reason: 'shutdown' });
    await settle();
    expect(rt.isAlive(child)).toBe(false);
    expect(terminated).toEqual([{ pid: child, reason: 'shutdown' }]);
  });
});
