import { describe, expect, it } from 'vitest';
import { Pid, isRuntimeError, reply, type From } from '../../src/runtime/index.js';
import { deferred, harness, like, recorder } from './support.js';

describe('call', () => {
  it('returns the reply of handleCall', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await expect(rt.call(pid, { op: 'echo', value: 42 })).resolves.toBe(42);
  });

  it('reaches a process by its registered name', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined, { name: 'echo' });
    expect(rt.whereis('echo')).toBe(pid);
    await expect(rt.call('echo', { op: 'echo', value: 'hi' })).resolves.toBe('hi');
  });

  it('handles messages one at a time, in order, awaiting async handlers', async () => {
    const { rt, settle } = harness();
    const gate = deferred();
    const pid = await rt.spawn(recorder(), undefined);
    const waiting = rt.call(pid, { op: 'wait', until: gate.promise });
    await rt.cast(pid, 'after');
    await settle();
    // The cast is still queued behind the pending async handler.
    expect(rt.info(pid)?.mailboxSize).toBe(1);
    gate.resolve();
    await expect(waiting).resolves.toBe('waited');
    await expect(rt.call(pid, { op: 'get' })).resolves.toEqual(['after']);
  });

  it('accepts a reply sent later through reply(from, value)', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    const pending = rt.call(pid, { op: 'later' });
    const [from] = await rt.call<[From]>(pid, { op: 'get' });
    expect(from.pending).toBe(true);
    expect(reply(from, 'done later')).toBe(true);
    await expect(pending).resolves.toBe('done later');
    expect(from.pending).toBe(false);
    expect(reply(from, 'twice')).toBe(false);
  });

  it('fails with noproc when no process has that pid or name', async () => {
    const { rt } = harness();
    await expect(rt.call(new Pid(999), { op: 'get' })).rejects.toMatchObject({ code: 'noproc' });
    await expect(rt.call('nobody', { op: 'get' })).rejects.toMatchObject({ code: 'noproc' });
  });

  it('fails with noproc for a process that has exited', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await rt.stop(pid);
    await expect(rt.call(pid, { op: 'get' })).rejects.toMatchObject({ code: 'noproc' });
  });

  it('fails with call_timeout when no reply comes within timeoutMs of the virtual clock', async () => {
    const { rt, clock } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    const pending = rt.call(pid, { op: 'later' }, { timeoutMs: 1000 });
    const outcome = expect(pending).rejects.toMatchObject({ code: 'call_timeout', retryable: true });
    await clock.advance(999);
    expect(rt.monitorCount).toBe(1);
    await clock.advance(1);
    await outcome;
    // The monitor the call held is released, and the late reply goes nowhere.
    expect(rt.monitorCount).toBe(0);
    const [from] = await rt.call<[From]>(pid, { op: 'get' });
    expect(reply(from, 'too late')).toBe(false);
  });

  it('uses the runtime default timeout when none is given', async () => {
    const { rt, clock } = harness({ callTimeoutMs: 250 });
    const pid = await rt.spawn(recorder(), undefined);
    const outcome = expect(rt.call(pid, { op: 'later' })).rejects.toMatchObject({ code: 'call_timeout' });
    await clock.advance(250);
    await outcome;
  });

  it('fails at once with the callee exit reason when the callee crashes while handling the call', async () => {
    const { rt, clock } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    const error = await rt
      .call(pid, { op: 'crash', message: 'boom' }, { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(isRuntimeError(error, 'process_exited')).toBe(true);
    expect(error).toMatchObject({ reason: { error: like({ message: 'boom' }) } });
    expect((error as Error).cause).toMatchObject({ message: 'boom' });
    expect(clock.now()).toBe(new Date('2026-01-01T00:00:00Z').getTime()); // no time had to pass
    expect(rt.monitorCount).toBe(0);
  });

  it('fails at once with the reason when the callee is stopped or killed while the call waits in its mailbox', async () => {
    const { rt, settle } = harness();
    const gate = deferred();
    const pid = await rt.spawn(recorder(), undefined);
    const busy = rt.call(pid, { op: 'wait', until: gate.promise }, { timeoutMs: 60_000 });
    const queued = rt.call(pid, { op: 'get' }, { timeoutMs: 60_000 });
    await settle();
    rt.kill(pid);
    await expect(queued).rejects.toMatchObject({ code: 'process_exited', reason: 'killed' });
    await expect(busy).rejects.toMatchObject({ code: 'process_exited', reason: 'killed' });
    gate.resolve();
  });

  it('fails with the reason a callee gave when it stopped without replying', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    const pending = rt.call(pid, { op: 'later' }, { timeoutMs: 60_000 });
    await rt.call(pid, { op: 'stop', reason: 'shutdown' });
    await expect(pending).rejects.toMatchObject({ code: 'process_exited', reason: 'shutdown' });
  });

  it('rejects a malformed handleCall return by crashing the callee with bad_message', async () => {
    const { rt } = harness();
    const pid = await rt.spawn({ init: () => 0, handleCall: () => ({ answer: 1 }) as never }, undefined);
    const error = await rt.call(pid, 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'process_exited',
      reason: { error: like({ code: 'bad_message' }) },
    });
  });

  it('crashes a process that gets a call it has no handler for, failing the call', async () => {
    const { rt } = harness();
    const pid = await rt.spawn({ init: () => 0 }, undefined);
    await expect(rt.call(pid, 'x')).rejects.toMatchObject({ code: 'process_exited' });
    expect(rt.isAlive(pid)).toBe(false);
  });

  it('validates the timeout', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await expect(rt.call(pid, { op: 'get' }, { timeoutMs: -1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(rt.cast(pid, 'x', { timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs/);
  });

  it('leaves no monitor behind after many calls that succeed, time out or meet a dead callee', async () => {
    const { rt, clock } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) calls.push(rt.call(pid, { op: 'echo', value: i }));
    for (let i = 0; i < 10; i++)
      calls.push(rt.call(pid, { op: 'later' }, { timeoutMs: 10 }).catch((e: unknown) => e));
    await clock.advance(10);
    for (let i = 0; i < 5; i++)
      calls.push(rt.call(pid, { op: 'later' }, { timeoutMs: 10_000 }).catch((e: unknown) => e));
    calls.push(rt.call(pid, { op: 'crash', message: 'end' }).catch((e: unknown) => e));
    await Promise.all(calls);
    expect(rt.monitorsOlderThan(0)).toEqual([]);
    expect(rt.monitorCount).toBe(0);
  });
});
