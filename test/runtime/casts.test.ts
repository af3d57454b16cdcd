import { describe, expect, it } from 'vitest';
import { Pid } from '../../src/runtime/index.js';
import { deferred, gated, harness, like, recorder } from './support.js';

describe('cast', () => {
  it('resolves "queued" once the message is in the mailbox and the process handles it in order', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await expect(rt.cast(pid, 'a')).resolves.toBe('queued');
    await rt.cast(pid, 'b');
    await expect(rt.call(pid, { op: 'get' })).resolves.toEqual(['a', 'b']);
  });

  it('fails with noproc instead of disappearing when the process does not exist', async () => {
    const { rt } = harness();
    await expect(rt.cast(new Pid(404), 'x')).rejects.toMatchObject({ code: 'noproc' });
    await expect(rt.send('ghost', 'x')).rejects.toMatchObject({ code: 'noproc' });
  });

  it('send delivers to handleInfo', async () => {
    const { rt } = harness();
    const pid = await rt.spawn(recorder(), undefined);
    await rt.send(pid, { tick: 1 });
    await expect(rt.call(pid, { op: 'get' })).resolves.toEqual([{ tick: 1 }]);
  });

  it('queues messages sent during init and handles them after it', async () => {
    const { rt } = harness();
    const ready = deferred();
    const spawned = rt.spawn(
      {
        ...recorder(),
        init: async () => {
          await ready.promise;
          return ['init'];
        },
      },
      undefined,
      { name: 'slow' },
    );
    await Promise.resolve();
    await rt.cast('slow', 'early');
    ready.resolve();
    const pid = await spawned;
    await expect(rt.call(pid, { op: 'get' })).resolves.toEqual(['init', 'early']);
  });
});

describe('a full mailbox', () => {
  it('with the reject policy fails the sender with mailbox_full and reports the overflow', async () => {
    const { rt, settle, ofType } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 2, overflow: 'reject' });
    await rt.cast(pid, 1); // taken by the handler, which waits on the gate
    await settle();
    await rt.cast(pid, 2);
    await rt.cast(pid, 3);
    await expect(rt.cast(pid, 4)).rejects.toMatchObject({ code: 'mailbox_full', retryable: true });
    await expect(rt.call(pid, 'x')).rejects.toMatchObject({ code: 'mailbox_full' });
    expect(ofType('mailbox_overflow')).toEqual([
      like({ pid, policy: 'reject', capacity: 2 }),
      like({ pid, policy: 'reject', capacity: 2 }),
    ]);
    gate.resolve();
    await settle();
    await expect(rt.call(pid, 'x')).resolves.toEqual([1, 2, 3]);
  });

  it('rejects by default', async () => {
    const { rt, settle } = harness({ mailboxCapacity: 1 });
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined);
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    await expect(rt.cast(pid, 3)).rejects.toMatchObject({ code: 'mailbox_full' });
    expect(rt.info(pid)).toMatchObject({ overflow: 'reject', mailboxCapacity: 1 });
    gate.resolve();
  });

  it('with the block policy makes the sender wait for room, in order', async () => {
    const { rt, settle, ofType } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 1, overflow: 'block' });
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    const order: string[] = [];
    const third = rt.cast(pid, 3).then((o) => order.push(`3:${o}`));
    const fourth = rt.cast(pid, 4).then((o) => order.push(`4:${o}`));
    await settle();
    expect(order).toEqual([]);
    expect(rt.info(pid)?.blockedSenders).toBe(2);
    expect(ofType('mailbox_overflow').map((e) => e.policy)).toEqual(['block', 'block']);
    gate.resolve();
    await Promise.all([third, fourth]);
    expect(order).toEqual(['3:queued', '4:queued']);
    await expect(rt.call(pid, 'x')).resolves.toEqual([1, 2, 3, 4]);
  });

  it('with the block policy fails a sender with mailbox_full when no room comes within its timeout', async () => {
    const { rt, settle, clock } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 1, overflow: 'block' });
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    const blocked = expect(rt.cast(pid, 3, { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'mailbox_full',
      details: { waitedMs: 500 },
    });
    await clock.advance(500);
    await blocked;
    gate.resolve();
    await settle();
    await expect(rt.call(pid, 'x')).resolves.toEqual([1, 2]);
  });

  it('with the block policy fails waiting senders with the reason when the process exits', async () => {
    const { rt, settle } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 1, overflow: 'block' });
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    const blocked = rt.cast(pid, 3, { timeoutMs: 60_000 });
    rt.kill(pid);
    await expect(blocked).rejects.toMatchObject({ code: 'process_exited', reason: 'killed' });
  });

  it('with the block policy makes a call wait too, bounded by the call timeout', async () => {
    const { rt, settle, clock } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 1, overflow: 'block' });
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    const waitsThenTimesOut = expect(rt.call(pid, 'x', { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'call_timeout',
    });
    await clock.advance(100);
    await waitsThenTimesOut;
    const waitsThenAnswered = rt.call(pid, 'x', { timeoutMs: 10_000 });
    gate.resolve();
    await expect(waitsThenAnswered).resolves.toEqual([1, 2]);
    expect(rt.monitorCount).toBe(0);
  });

  it('with the drop policy (chosen by the process) drops, counts and reports each drop', async () => {
    const { rt, settle, ofType } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined, { mailboxCapacity: 1, overflow: 'drop' });
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    await expect(rt.cast(pid, 3)).resolves.toBe('dropped');
    await expect(rt.send(pid, 4)).resolves.toBe('dropped');
    expect(rt.info(pid)?.dropped).toBe(2);
    expect(ofType('mailbox_drop')).toEqual([
      like({ pid, capacity: 1, droppedTotal: 1 }),
      like({ pid, capacity: 1, droppedTotal: 2 }),
    ]);
    // A call is never dropped: it fails instead.
    await expect(rt.call(pid, 'x')).rejects.toMatchObject({ code: 'mailbox_full' });
    gate.resolve();
    await settle();
    await expect(rt.call(pid, 'x')).resolves.toEqual([1, 2]);
  });

  it('never refuses runtime messages (DOWN, EXIT): they are bounded by monitors and links, not by capacity', async () => {
    const { rt, settle } = harness();
    const gate = deferred();
    const watcher = await rt.spawn(
      { ...gated(gate.promise), handleInfo: (m: unknown, s: unknown[]) => [...s, m] },
      undefined,
      {
        mailboxCapacity: 1,
      },
    );
    const target = await rt.spawn(recorder(), undefined);
    await rt.cast(watcher, 1);
    await settle();
    await rt.cast(watcher, 2);
    rt.monitor(target, watcher);
    rt.kill(target);
    expect(rt.info(watcher)?.mailboxSize).toBe(2);
    gate.resolve();
    await settle();
    const got = await rt.call<unknown[]>(watcher, 'x');
    expect(got.at(-1)).toMatchObject({ type: 'DOWN', target, reason: 'killed' });
  });

  it('counts the messages a dying process leaves unhandled in its exit event', async () => {
    const { rt, settle, ofType } = harness();
    const gate = deferred();
    const pid = await rt.spawn(gated(gate.promise), undefined);
    await rt.cast(pid, 1);
    await settle();
    await rt.cast(pid, 2);
    await rt.cast(pid, 3);
    rt.kill(pid);
    expect(ofType('exit')).toEqual([like({ pid, reason: 'killed', discardedMessages: 2 })]);
    gate.resolve();
  });

  it('validates spawn options', async () => {
    const { rt } = harness();
    await expect(rt.spawn(recorder(), undefined, { mailboxCapacity: 0 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(rt.spawn(recorder(), undefined, { overflow: 'maybe' as never })).rejects.toThrow(/overflow/);
  });
});
