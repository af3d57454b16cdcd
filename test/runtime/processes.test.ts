import { describe, expect, it } from 'vitest';
import { createRuntime, VirtualClock, type ExitReason, type Pid } from '../../src/runtime/index.js';
import { anError, deferred, harness, like, recorder } from './support.js';

describe('processes', () => {
  it('a handler that throws kills only its own process, with the error as the reason', async () => {
    const { rt, settle, ofType } = harness();
    const terminated: Array<{ pid: Pid; reason: ExitReason }> = [];
    const victim = await rt.spawn(recorder(terminated), undefined);
    const others = [await rt.spawn(recorder(), undefined), await rt.spawn(recorder(), undefined)];
    await rt.cast(victim, 'crash');
    await settle();
    expect(rt.isAlive(victim)).toBe(false);
    for (const p of others) expect(rt.isAlive(p)).toBe(true);
    expect(terminated).toEqual([{ pid: victim, reason: { error: like({ message: 'cast crash' }) } }]);
    expect(ofType('exit')).toEqual([like({ pid: victim, reason: { error: anError() } })]);
  });

  it('an async handler that rejects kills its process the same way', async () => {
    const { rt, settle } = harness();
    const pid = await rt.spawn(
      { init: () => 0, handleCast: async () => Promise.reject(new Error('async boom')) },
      undefined,
    );
    await rt.cast(pid, 'x');
    await settle();
    expect(rt.isAlive(pid)).toBe(false);
  });

  it('an init that throws fails the spawn with init_failed and leaves no process or name behind', async () => {
    const { rt, ofType } = harness();
    const error = await rt
      .spawn({ init: () => Promise.reject(new Error('store unreachable')) }, undefined, { name: 'loader' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'init_failed',
      cause: like({ message: 'store unreachable' }),
    });
    expect(rt.whereis('loader')).toBeUndefined();
    expect(rt.processCount).toBe(0);
    expect(ofType('init_failed')).toHaveLength(1);
  });

  it('init may load its state asynchronously (e.g. from the store) before any message is handled', async () => {
    const { rt } = harness();
    const pid = await rt.spawn({ ...recorder(), init: async (n: number) => [`loaded ${n}`] }, 7);
    await expect(rt.call(pid, { op: 'get' })).resolves.toEqual(['loaded 7']);
  });

  it('refuses a name already registered, and frees a name when its process exits', async () => {
    const { rt } = harness();
    const first = await rt.spawn(recorder(), undefined, { name: 'unique' });
    await expect(rt.spawn(recorder(), undefined, { name: 'unique' })).rejects.toMatchObject({
      code: 'name_taken',
    });
    await rt.stop(first);
    await expect(rt.spawn(recorder(), undefined, { name: 'unique' })).resolves.toBeDefined();
  });

  it('an exit signal takes effect after the running handler returns, and terminate runs', async () => {
    const { rt, settle } = harness();
    const terminated: Array<{ pid: Pid; reason: ExitReason }> = [];
    const gate = deferred();
    const pid = await rt.spawn(recorder(terminated), undefined);
    const running = rt.call(pid, { op: 'wait', until: gate.promise });
    await settle();
    rt.exit(pid, 'shutdown');
    await settle();
    expect(rt.info(pid)?.status).toBe('exiting');
    await expect(rt.cast(pid, 'late')).rejects.toMatchObject({ code: 'noproc' });
    gate.resolve();
    await expect(running).resolves.toBe('waited');
    await settle();
    expect(rt.isAlive(pid)).toBe(false);
    expect(terminated).toEqual([{ pid, reason: 'shutdown' }]);
  });

  it('stop waits for terminate and kills the process when terminate outlasts the timeout', async () => {
    const { rt, clock } = harness();
    const never = new Promise<void>(() => undefined);
    const pid = await rt.spawn({ init: () => 0, terminate: () => never }, undefined);
    const stopped = rt.stop(pid, 'shutdown', { timeoutMs: 2000 });
    await clock.advance(1999);
    expect(rt.isAlive(pid) || rt.info(pid)?.status === 'exiting').toBe(true);
    await clock.advance(1);
    await expect(stopped).resolves.toBe('killed');
    expect(rt.info(pid)).toBeUndefined();
  });

  it('stop of a process that is not alive fails with noproc', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await rt.stop(pid);
    await expect(rt.stop(pid)).rejects.toMatchObject({ code: 'noproc' });
  });

  it('a throwing terminate is reported and the exit reason stays', async () => {
    const { rt, ofType } = harness();
    const pid = await rt.spawn(
      {
        init: () => 0,
        terminate: () => {
          throw new Error('cleanup failed');
        },
      },
      undefined,
    );
    await expect(rt.stop(pid, 'shutdown')).resolves.toBe('shutdown');
    expect(ofType('terminate_failed')).toEqual([like({ pid, error: like({ message: 'cleanup failed' }) })]);
  });

  it('info messages without handleInfo are reported, not silently lost', async () => {
    const { rt, settle, ofType } = harness();
    const pid = await rt.spawn({ init: () => 0 }, undefined);
    await rt.send(pid, { stray: true });
    await settle();
    expect(ofType('unhandled_info')).toEqual([like({ pid, message: { stray: true } })]);
  });

  it('shutdown stops every process and leaves no timer pending', async () => {
    const { rt, clock } = harness();
    for (let i = 0; i < 5; i++) await rt.spawn(recorder(), undefined);
    const pid = await rt.spawn(recorder(), undefined);
    void rt.call(pid, { op: 'later' }, { timeoutMs: 10_000 }).catch(() => undefined);
    await rt.shutdown();
    expect(rt.processCount).toBe(0);
    expect(rt.monitorCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('validates runtime options', () => {
    expect(() => createRuntime({ clock: {} as never })).toThrow(/Clock/);
    expect(() => createRuntime({ clock: new VirtualClock(), mailboxCapacity: -1 })).toThrow(
      /mailboxCapacity/,
    );
  });
});

describe('runtime events', () => {
  it('are observation only: a sink that throws is reported as a warning and changes nothing', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const rt = createRuntime({
        clock: new VirtualClock(),
        events: () => {
          throw new Error('sink broken');
        },
      });
      const pid = await rt.spawn(recorder(), undefined);
      await expect(rt.call(pid, { op: 'echo', value: 1 })).resolves.toBe(1);
      await expect(rt.stop(pid, 'shutdown')).resolves.toBe('shutdown');
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes('sink broken'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
