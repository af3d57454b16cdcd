import { describe, expect, it } from 'vitest';
import { isGarrisonError } from '../../src/errors.js';
import {
  BreakerRegistry,
  BreakerTimeoutError,
  CircuitBreaker,
  CircuitOpenError,
  type CircuitBreakerOptions,
} from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import { createEventBus, type BusEvent, type ResilienceEvents } from '../../src/telemetry/index.js';

const boom = () => Promise.reject(new Error('boom'));
const ok = () => Promise.resolve('ok');

function setup(options: CircuitBreakerOptions = {}) {
  const clock = new VirtualClock();
  const bus = createEventBus({ clock });
  const transitions: Array<ResilienceEvents['breaker.transition']> = [];
  const events: Array<BusEvent<ResilienceEvents>> = [];
  bus.on('breaker.transition', (e) => {
    transitions.push(e.payload);
  });
  bus.on('breaker.*', (e) => {
    events.push(e);
  });
  const breaker = new CircuitBreaker('payments', { clock, events: bus, ...options });
  return { clock, bus, breaker, transitions, events };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.call(boom)).rejects.toThrow('boom');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CircuitBreaker', () => {
  it('opens after failureThreshold consecutive failures; a success in between starts the count again', async () => {
    const { breaker } = setup({ failureThreshold: 3 });
    await failTimes(breaker, 2);
    await expect(breaker.call(ok)).resolves.toBe('ok');
    await failTimes(breaker, 2);
    expect(breaker.status().state).toBe('closed');
    expect(breaker.status().failures).toBe(2);
    await failTimes(breaker, 1);
    expect(breaker.status().state).toBe('open');
  });

  it('refuses calls at once with circuit_open while open, without running the function', async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, resetTimeoutMs: 5000 });
    await failTimes(breaker, 1);
    await clock.advance(1000);
    let ran = false;
    const error = await breaker
      .call(() => {
        ran = true;
        return ok();
      })
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isGarrisonError(error, 'circuit_open')).toBe(true);
    expect((error as CircuitOpenError).retryAfterMs).toBe(4000);
    expect((error as CircuitOpenError).reason).toBe('open');
    expect(breaker.status().totals.rejections).toBe(1);
  });

  it('goes half-open after resetTimeoutMs and closes after successThreshold successful probes', async () => {
    const { breaker, clock, transitions } = setup({
      failureThreshold: 1,
      successThreshold: 2,
      resetTimeoutMs: 5000,
    });
    await failTimes(breaker, 1);
    await clock.advance(4999);
    expect(breaker.status().state).toBe('open');
    await clock.advance(1);
    expect(breaker.status().state).toBe('half_open');
    await breaker.call(ok);
    expect(breaker.status()).toMatchObject({ state: 'half_open', successes: 1 });
    await breaker.call(ok);
    expect(breaker.status().state).toBe('closed');
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      ['closed', 'open', 'failure_threshold'],
      ['open', 'half_open', 'reset_timeout'],
      ['half_open', 'closed', 'success_threshold'],
    ]);
  });

  it('reopens when a half-open probe fails, and waits a full reset timeout again', async () => {
    const { breaker, clock, transitions } = setup({ failureThreshold: 1, resetTimeoutMs: 1000 });
    await failTimes(breaker, 1);
    await clock.advance(1000);
    await failTimes(breaker, 1);
    expect(breaker.status()).toMatchObject({ state: 'open', retryAt: clock.now() + 1000 });
    expect(transitions.at(-1)).toMatchObject({ from: 'half_open', to: 'open', reason: 'probe_failed' });
  });

  it('lets only halfOpenMaxProbes probes run at once; the others are refused with probe_limit', async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, resetTimeoutMs: 1000, halfOpenMaxProbes: 2 });
    await failTimes(breaker, 1);
    await clock.advance(1000);
    const first = deferred<string>();
    const second = deferred<string>();
    const probe1 = breaker.call(() => first.promise);
    const probe2 = breaker.call(() => second.promise);
    const third = await breaker.call(ok).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CircuitOpenError);
    expect((third as CircuitOpenError).reason).toBe('probe_limit');
    expect(breaker.status().activeProbes).toBe(2);
    first.resolve('a');
    second.resolve('b');
    await expect(Promise.all([probe1, probe2])).resolves.toEqual(['a', 'b']);
    expect(breaker.status().state).toBe('closed');
  });

  it('fails a call that outlives callTimeoutMs with breaker_timeout, aborts its signal and counts a failure', async () => {
    const { breaker, clock, events } = setup({ failureThreshold: 1, callTimeoutMs: 200 });
    let seen: AbortSignal | undefined;
    const call = breaker.call((signal) => {
      seen = signal;
      return new Promise<never>(() => {});
    });
    const outcome = call.catch((e: unknown) => e);
    await clock.advance(199);
    expect(seen?.aborted).toBe(false);
    await clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(BreakerTimeoutError);
    expect(isGarrisonError(error, 'breaker_timeout')).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    expect(breaker.status()).toMatchObject({ state: 'open', totals: { timeouts: 1, failures: 1 } });
    expect(events.map((e) => e.name)).toEqual(['breaker.timeout', 'breaker.transition']);
  });

  it('never blocks on user code: a call that hangs forever leaves other calls, status and other breakers free', async () => {
    const clock = new VirtualClock();
    const registry = new BreakerRegistry({ clock, defaults: { callTimeoutMs: 3_600_000 } });
    const slow = registry.get('slow-service');
    let hangingStarted = false;
    const hanging = slow.call(() => {
      hangingStarted = true;
      return new Promise<never>(() => {});
    });
    let hangingSettled = false;
    void hanging.then(
      () => (hangingSettled = true),
      () => (hangingSettled = true),
    );
    expect(hangingStarted).toBe(true);

    // Many other calls through the same breaker, while the first one hangs.
    const others = await Promise.all(
      Array.from({ length: 100 }, (_, i) => slow.call(() => Promise.resolve(i))),
    );
    expect(others).toHaveLength(100);
    expect(others[99]).toBe(99);
    // Status queries answer at once.
    expect(slow.status()).toMatchObject({
      state: 'closed',
      activeCalls: 1,
      totals: { calls: 101, successes: 100 },
    });
    // Another breaker works normally, failures and all.
    const other = registry.get('other-service', { failureThreshold: 1 });
    await expect(other.call(boom)).rejects.toThrow('boom');
    expect(other.status().state).toBe('open');
    expect(registry.list().map((s) => [s.service, s.state])).toEqual([
      ['other-service', 'open'],
      ['slow-service', 'closed'],
    ]);
    // A reset of the hanging breaker goes through too.
    slow.reset();
    expect(hangingSettled).toBe(false);
  });

  it('does not count an outcome toward a state that ended while the call ran', async () => {
    const { breaker, clock } = setup({ failureThreshold: 2, resetTimeoutMs: 1000, successThreshold: 1 });
    const old = deferred<string>();
    const oldCall = breaker.call(() => old.promise);
    await failTimes(breaker, 2);
    await clock.advance(1000);
    expect(breaker.status().state).toBe('half_open');
    // The call admitted while closed succeeds now: it is not a probe and must not close the breaker.
    old.resolve('late');
    await expect(oldCall).resolves.toBe('late');
    expect(breaker.status()).toMatchObject({ state: 'half_open', successes: 0, totals: { stale: 1 } });
  });

  it('reset() closes the breaker and emits manual_reset; calls still running no longer count', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 1 });
    const running = deferred<string>();
    const call = breaker.call(() => running.promise);
    await failTimes(breaker, 1);
    expect(breaker.status().state).toBe('open');
    breaker.reset();
    expect(breaker.status()).toMatchObject({ state: 'closed', failures: 0 });
    expect(transitions.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'manual_reset' });
    running.reject(new Error('late failure'));
    await expect(call).rejects.toThrow('late failure');
    expect(breaker.status()).toMatchObject({ state: 'closed', failures: 0, totals: { stale: 1 } });
  });

  it('counts only the errors isFailure accepts', async () => {
    class BadInput extends Error {}
    const { breaker } = setup({ failureThreshold: 1, isFailure: (e) => !(e instanceof BadInput) });
    await expect(breaker.call(() => Promise.reject(new BadInput('caller mistake')))).rejects.toThrow(
      'caller mistake',
    );
    expect(breaker.status().state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.status().state).toBe('open');
  });

  it("a caller's abort rejects with its reason, aborts the call's signal and counts as neither outcome", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const controller = new AbortController();
    let inner: AbortSignal | undefined;
    const call = breaker.call(
      (signal) => {
        inner = signal;
        return new Promise<never>(() => {});
      },
      { signal: controller.signal },
    );
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(inner?.aborted).toBe(true);
    expect(breaker.status()).toMatchObject({ state: 'closed', failures: 0, activeCalls: 0 });
  });

  it('treats a synchronous throw like a rejection', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await expect(
      breaker.call(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(breaker.status()).toMatchObject({ state: 'open', lastFailure: { message: 'sync' } });
  });

  it('leaves no timer behind once its calls have settled', async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, resetTimeoutMs: 1000 });
    await breaker.call(ok);
    await failTimes(breaker, 1);
    expect(breaker.status().state).toBe('open');
    // Open → half-open needs no timer: it is decided from the clock when the breaker is next looked at.
    expect(clock.pendingTimers).toBe(0);
  });

  it('a transition listener that calls back into the breaker sees the new state', async () => {
    const clock = new VirtualClock();
    const bus = createEventBus({ clock });
    const breaker = new CircuitBreaker('svc', { clock, events: bus, failureThreshold: 1 });
    const seen: string[] = [];
    bus.on('breaker.transition', () => {
      seen.push(breaker.status().state);
    });
    await failTimes(breaker, 1);
    expect(seen).toEqual(['open']);
  });

  it('rejects invalid options with a readable invalid_input error', () => {
    expect(() => new CircuitBreaker('svc', { failureThreshold: 0 })).toThrow(/failureThreshold/);
    expect(() => new CircuitBreaker('', {})).toThrow(/service/);
    const error = thrown(() => new CircuitBreaker('svc', { callTimeoutMs: -1 }));
    expect(isGarrisonError(error, 'invalid_input')).toBe(true);
    expect((error as Error).message).toMatch(/callTimeoutMs/);
  });
});

describe('BreakerRegistry', () => {
  it('creates one breaker per service from defaults and per-service settings, and reuses it', async () => {
    const clock = new VirtualClock();
    const registry = new BreakerRegistry({
      clock,
      defaults: { failureThreshold: 5 },
      services: { fragile: { failureThreshold: 1 } },
    });
    const fragile = registry.get('fragile');
    expect(registry.get('fragile')).toBe(fragile);
    expect(registry.find('sturdy')).toBeUndefined();
    await failTimes(fragile, 1);
    const sturdy = registry.get('sturdy');
    await failTimes(sturdy, 1);
    expect(registry.list().map((s) => [s.service, s.state])).toEqual([
      ['fragile', 'open'],
      ['sturdy', 'closed'],
    ]);
  });

  it('resets one breaker by name or all of them', async () => {
    const registry = new BreakerRegistry({ clock: new VirtualClock(), defaults: { failureThreshold: 1 } });
    await failTimes(registry.get('a'), 1);
    await failTimes(registry.get('b'), 1);
    expect(registry.reset('a')).toBe(true);
    expect(registry.reset('missing')).toBe(false);
    expect(registry.list().map((s) => s.state)).toEqual(['closed', 'open']);
    registry.resetAll();
    expect(registry.list().map((s) => s.state)).toEqual(['closed', 'closed']);
  });
});
