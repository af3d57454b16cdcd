/**
 * Best-effort and all-or-nothing broadcasts over real runtime processes and the virtual clock (the
 * durable at-least-once broadcast is in broadcast-durable.test.ts).
 *
 * best effort: each target is called once, concurrently; the result lists every target's reply or error.
 * all or nothing: two-phase — every target votes on the message (prepare) before any applies it
 * (commit); one failed prepare and nobody gets a commit, every target that may hold it gets an abort.
 */
import { describe, expect, it } from 'vitest';
import {
  createSupervisedSender,
  handleTwoPhase,
  preparedCount,
  TWO_PHASE_PREPARE,
  type AllOrNothingResult,
} from '../../src/messaging/index.js';
import {
  VirtualClock,
  createRuntime,
  type Behaviour,
  type CallResult,
  type Pid,
} from '../../src/runtime/index.js';

interface Transfer {
  readonly amount: number;
}

interface LedgerArgs {
  /** Votes no to transfers above this. */
  readonly limit?: number;
  /** Crashes while preparing. */
  readonly crashOnPrepare?: boolean;
  /** Prepares only once this settles. */
  readonly slowPrepare?: Promise<unknown>;
  /** Every call this process handled: the protocol step (`prepare`, …) or `call <message>`. */
  readonly log: string[];
}

interface Ledger {
  readonly args: LedgerArgs;
  readonly applied: Transfer[];
}

/** A participant: applies transfers only through the two-phase protocol; `applied` reads its state. */
const ledger: Behaviour<Ledger, LedgerArgs> = {
  init: (args) => ({ args, applied: [] }),
  async handleCall(msg: unknown, _from, state, ctx): Promise<CallResult<Ledger>> {
    if (typeof msg === 'object' && msg !== null && 'txid' in msg && 'type' in msg)
      state.args.log.push(String(msg.type).replace('garrison.2pc.', ''));
    else if (msg !== 'applied') state.args.log.push(`call ${JSON.stringify(msg)}`);
    const protocol = await handleTwoPhase<Ledger, Transfer>(msg, state, ctx, {
      async prepare(transfer, s) {
        if (s.args.slowPrepare !== undefined) await s.args.slowPrepare;
        if (s.args.crashOnPrepare === true) throw new Error('disk on fire');
        if (s.args.limit !== undefined && transfer.amount > s.args.limit)
          return `amount ${transfer.amount} is above the limit ${s.args.limit}`;
        return undefined;
      },
      commit: (transfer, s) => ({ ...s, applied: [...s.applied, transfer] }),
    });
    if (protocol !== undefined) return protocol;
    if (msg === 'applied') return { reply: state.applied, state };
    if (msg === 'crash') throw new Error('asked to crash');
    if (msg === 'hang') return { noreply: true, state };
    return { reply: { echo: msg }, state };
  },
};

function setup() {
  const clock = new VirtualClock();
  const runtime = createRuntime({ clock });
  const sender = createSupervisedSender({ runtime, clock });
  const logs: Record<string, string[]> = {};
  const spawn = async (name: string, args: Omit<LedgerArgs, 'log'> = {}): Promise<Pid> => {
    logs[name] = [];
    return runtime.spawn(ledger, { ...args, log: logs[name] }, { name });
  };
  const applied = (name: string) => runtime.call<Transfer[]>(name, 'applied');
  return { clock, runtime, sender, logs, spawn, applied };
}

function byTarget(result: AllOrNothingResult) {
  return Object.fromEntries(result.outcomes.map((o) => [String(o.target), o]));
}

describe('best-effort broadcast', () => {
  it("calls each target once and lists every target's reply or error, in target order", async () => {
    const { runtime, sender, spawn } = setup();
    await spawn('a');
    await spawn('b');
    const gone = await spawn('gone');
    await runtime.stop(gone);
    const result = await sender.broadcast(['a', gone, 'b', 'nobody'], 'hello', { semantics: 'best_effort' });
    expect(result.ok).toBe(false);
    expect(result.outcomes).toMatchObject([
      { target: 'a', ok: true, reply: { echo: 'hello' } },
      { target: gone, ok: false, error: { code: 'noproc' } },
      { target: 'b', ok: true, reply: { echo: 'hello' } },
      { target: 'nobody', ok: false, error: { code: 'noproc' } },
    ]);
  });

  it('a target that crashes on the message is reported with its exit reason; the others still reply', async () => {
    const { runtime, sender, spawn } = setup();
    await spawn('a');
    await spawn('b');
    const result = await sender.broadcast(['a', 'b'], 'crash', { semantics: 'best_effort' });
    expect(result.outcomes).toMatchObject([
      { target: 'a', ok: false, error: { code: 'process_exited' } },
      { target: 'b', ok: false, error: { code: 'process_exited' } },
    ]);
    const c = await spawn('c');
    await spawn('d');
    const mixed = await sender.broadcast([c, 'd'], 'fine', { semantics: 'best_effort' });
    expect(mixed).toMatchObject({ ok: true, outcomes: [{ ok: true }, { ok: true }] });
    expect(runtime.isAlive('a')).toBe(false);
  });

  it('a target that does not answer in time is reported as call_timeout and is not tried again', async () => {
    const { clock, sender, spawn, logs } = setup();
    await spawn('a');
    await spawn('slow');
    const sending = sender.broadcast(['a', 'slow'], 'hang', { semantics: 'best_effort', timeoutMs: 500 });
    await clock.advance(500);
    const result = await sending;
    expect(result).toMatchObject({
      ok: false,
      outcomes: [
        { target: 'a', ok: false, error: { code: 'call_timeout' } },
        { target: 'slow', ok: false, error: { code: 'call_timeout' } },
      ],
    });
    await clock.advance(60_000);
    // No retries: each target saw the message once, and no timer is left to send it again.
    expect(logs).toEqual({ a: ['call "hang"'], slow: ['call "hang"'] });
    expect(clock.pendingTimers).toBe(0);
  });

  it('when every target replies, ok is true', async () => {
    const { sender, spawn } = setup();
    await spawn('a');
    await spawn('b');
    await expect(sender.broadcast(['a', 'b'], 1, { semantics: 'best_effort' })).resolves.toEqual({
      semantics: 'best_effort',
      ok: true,
      outcomes: [
        { target: 'a', ok: true, reply: { echo: 1 } },
        { target: 'b', ok: true, reply: { echo: 1 } },
      ],
    });
  });
});

describe('all-or-nothing broadcast', () => {
  it('when every target votes yes, each applies the message exactly once', async () => {
    const { sender, spawn, applied, logs } = setup();
    await spawn('a');
    await spawn('b');
    await spawn('c');
    const result = await sender.broadcast(['a', 'b', 'c'], { amount: 10 }, { semantics: 'all_or_nothing' });
    expect(result).toMatchObject({ decision: 'committed', ok: true });
    for (const o of result.outcomes) expect(o).toMatchObject({ prepare: { ok: true }, commit: { ok: true } });
    for (const name of ['a', 'b', 'c']) {
      expect(await applied(name)).toEqual([{ amount: 10 }]);
      expect(logs[name]).toEqual(['prepare', 'commit']);
    }
  });

  it('all-or-nothing: one dead target means no target applies the message', async () => {
    const { runtime, sender, spawn, applied, logs } = setup();
    const a = await spawn('a');
    const b = await spawn('b');
    const dead = await spawn('dead');
    await runtime.stop(dead);
    const result = await sender.broadcast(
      ['a', 'dead', 'b'],
      { amount: 10 },
      { semantics: 'all_or_nothing' },
    );
    expect(result).toMatchObject({ decision: 'aborted', ok: false });
    expect(byTarget(result)).toMatchObject({
      a: { prepare: { ok: true }, abort: { ok: true } },
      dead: { prepare: { ok: false, error: { code: 'noproc' } } },
      b: { prepare: { ok: true }, abort: { ok: true } },
    });
    expect(byTarget(result).dead).not.toHaveProperty('abort');
    for (const o of result.outcomes) expect(o).not.toHaveProperty('commit');
    expect(await applied('a')).toEqual([]);
    expect(await applied('b')).toEqual([]);
    expect(logs.a).toEqual(['prepare', 'abort']);
    expect(logs.b).toEqual(['prepare', 'abort']);
    expect(preparedCount(a)).toBe(0);
    expect(preparedCount(b)).toBe(0);
  });

  it('all-or-nothing: one target refusing means no target applies it, and every prepared target gets an abort', async () => {
    const { sender, spawn, applied, logs } = setup();
    await spawn('a');
    await spawn('strict', { limit: 5 });
    await spawn('b');
    const result = await sender.broadcast(
      ['a', 'strict', 'b'],
      { amount: 10 },
      { semantics: 'all_or_nothing' },
    );
    expect(result.decision).toBe('aborted');
    expect(byTarget(result)).toMatchObject({
      a: { prepare: { ok: true }, abort: { ok: true } },
      strict: {
        prepare: {
          ok: false,
          error: {
            code: 'prepare_refused',
            message: expect.stringContaining('above the limit 5') as unknown,
          },
        },
      },
      b: { prepare: { ok: true }, abort: { ok: true } },
    });
    for (const name of ['a', 'strict', 'b']) expect(await applied(name)).toEqual([]);
    expect(logs.a).toEqual(['prepare', 'abort']);
    expect(logs.b).toEqual(['prepare', 'abort']);
  });

  it('all-or-nothing: a target that crashes while preparing aborts the broadcast at once, not at the timeout', async () => {
    const { clock, sender, spawn, applied } = setup();
    await spawn('a');
    await spawn('fragile', { crashOnPrepare: true });
    const start = clock.now();
    const result = await sender.broadcast(
      ['a', 'fragile'],
      { amount: 1 },
      {
        semantics: 'all_or_nothing',
        timeoutMs: 60_000,
      },
    );
    expect(clock.now()).toBe(start);
    expect(byTarget(result)).toMatchObject({
      a: { prepare: { ok: true }, abort: { ok: true } },
      fragile: { prepare: { ok: false, error: { code: 'process_exited' } } },
    });
    expect(result.decision).toBe('aborted');
    expect(await applied('a')).toEqual([]);
  });

  it('all-or-nothing: a target that prepares too late is told to abort and never applies the message', async () => {
    const { clock, sender, spawn, applied, logs, runtime } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await spawn('a');
    const slow = await spawn('slow', { slowPrepare: gate });
    const sending = sender.broadcast(
      ['a', 'slow'],
      { amount: 3 },
      { semantics: 'all_or_nothing', timeoutMs: 1000 },
    );
    await clock.advance(1000);
    // The abort to `slow` waits behind its pending prepare; now let that prepare finish, too late.
    release();
    const result = await sending;
    expect(byTarget(result)).toMatchObject({
      a: { prepare: { ok: true }, abort: { ok: true } },
      slow: { prepare: { ok: false, error: { code: 'call_timeout' } }, abort: { ok: true } },
    });
    expect(logs.slow).toEqual(['prepare', 'abort']);
    expect(preparedCount(slow)).toBe(0);
    expect(await applied('slow')).toEqual([]);
    expect(await applied('a')).toEqual([]);
    expect(runtime.isAlive(slow)).toBe(true);
  });

  it('all-or-nothing: a reply that is not a vote counts as a failed prepare (protocol_violation)', async () => {
    const { runtime, sender, spawn, applied } = setup();
    await spawn('a');
    // A process that answers every call with the same thing, whatever the protocol asks.
    await runtime.spawn(
      { init: () => null, handleCall: (_m: unknown, _f, s: null) => ({ reply: 'sure', state: s }) },
      undefined,
      { name: 'confused' },
    );
    const result = await sender.broadcast(['a', 'confused'], { amount: 1 }, { semantics: 'all_or_nothing' });
    expect(result.decision).toBe('aborted');
    expect(byTarget(result)).toMatchObject({
      confused: { prepare: { ok: false, error: { code: 'protocol_violation' } }, abort: { ok: false } },
    });
    expect(await applied('a')).toEqual([]);
  });

  it('a target that dies between its yes and the commit is reported, and the others apply it (the limit of in-memory two-phase)', async () => {
    const { runtime, sender, spawn, applied } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await spawn('a');
    const b = await spawn('b');
    await spawn('slow', { slowPrepare: gate });
    const sending = sender.broadcast(
      ['a', 'b', 'slow'],
      { amount: 2 },
      { semantics: 'all_or_nothing', timeoutMs: Infinity },
    );
    // `b` has voted yes (its prepare is answered); it dies before the decision.
    await runtime.call('a', 'applied');
    await runtime.call('b', 'applied');
    runtime.kill(b);
    release();
    const result = await sending;
    expect(result).toMatchObject({ decision: 'committed', ok: false });
    expect(byTarget(result)).toMatchObject({
      a: { prepare: { ok: true }, commit: { ok: true } },
      b: { prepare: { ok: true }, commit: { ok: false, error: { code: 'noproc' } } },
      slow: { prepare: { ok: true }, commit: { ok: true } },
    });
    expect(await applied('a')).toEqual([{ amount: 2 }]);
    expect(await applied('slow')).toEqual([{ amount: 2 }]);
  });

  it('the protocol messages carry one transaction id per broadcast', async () => {
    const { runtime, sender } = setup();
    const seen: unknown[] = [];
    await runtime.spawn(
      {
        init: () => null,
        handleCall: (m: unknown, _f, s: null) => {
          seen.push(m);
          return { reply: { vote: 'no', reason: 'just looking' }, state: s };
        },
      },
      undefined,
      { name: 'observer' },
    );
    const result = await sender.broadcast(['observer'], { amount: 1 }, { semantics: 'all_or_nothing' });
    expect(seen[0]).toEqual({ type: TWO_PHASE_PREPARE, txid: result.txid, message: { amount: 1 } });
    expect(seen[1]).toEqual({ type: 'garrison.2pc.abort', txid: result.txid });
  });

  it('bad targets and options are refused with invalid_input and nothing is sent', async () => {
    const { sender, spawn, logs } = setup();
    await spawn('a');
    const bad: Array<[unknown, unknown]> = [
      [[], { semantics: 'best_effort' }],
      [['a', 'a'], { semantics: 'all_or_nothing' }],
      [['a'], { semantics: 'exactly_once' }],
      [['a'], { semantics: 'best_effort', timeoutMs: -5 }],
      [['a'], { semantics: 'all_or_nothing', maxAttempts: 3 }],
      [['a'], { semantics: 'at_least_once' }], // this sender has no durable delivery
    ];
    for (const [targets, options] of bad) {
      await expect(
        sender.broadcast(targets as string[], { amount: 1 }, options as { semantics: 'best_effort' }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
    }
    expect(logs.a).toEqual([]);
  });
});
