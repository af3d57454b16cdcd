import { describe, expect, it } from 'vitest';
import { GarrisonError, isGarrisonError } from '../../src/errors.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  PermanentError,
  RetryAbortedError,
  RetryBudgetExhaustedError,
  createRetryBudget,
  customPolicy,
  exponentialBackoff,
  fixedDelay,
  immediate,
  isRetryableError,
  linearBackoff,
  retry,
  type RetryPolicy,
} from '../../src/resilience/index.js';
import { VirtualClock } from '../../src/runtime/clock.js';
import { createEventBus, type BusEvent, type ResilienceEvents } from '../../src/telemetry/index.js';

/** A random source that replays `values` in a loop. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
};

const delays = (policy: RetryPolicy, n: number) =>
  Array.from({ length: n }, (_, i) => policy.delayMs(i + 1, null));

/** A function that fails `failures` times with `error()`, then returns 'done'; records when it ran. */
function flaky(clock: VirtualClock, failures: number, error: () => Error = () => new Error('flaky')) {
  const calls: number[] = [];
  const fn = () => {
    calls.push(clock.now());
    if (calls.length <= failures) return Promise.reject(error());
    return Promise.resolve('done');
  };
  return { fn, calls };
}

function recorder() {
  const clock = new VirtualClock();
  const bus = createEventBus({ clock });
  const events: Array<BusEvent<ResilienceEvents>> = [];
  bus.on('retry.*', (e) => {
    events.push(e);
  });
  return { clock, bus, events };
}

describe('retry policies', () => {
  it('exponential backoff doubles up to its cap without jitter', () => {
    const policy = exponentialBackoff({
      initialDelayMs: 100,
      maxDelayMs: 1000,
      jitter: 'none',
      maxAttempts: 10,
    });
    expect(delays(policy, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter draws uniformly in [0, d] and equal jitter in [d/2, d], from the injected random source', () => {
    const full = exponentialBackoff({ initialDelayMs: 100, jitter: 'full', random: sequence(0, 0.5, 0.999) });
    expect(delays(full, 3)).toEqual([0, 100, 400]);
    const equal = exponentialBackoff({ initialDelayMs: 100, jitter: 'equal', random: sequence(0, 0.5, 1) });
    expect(delays(equal, 3)).toEqual([50, 150, 400]);
  });

  it('fixed, immediate and linear policies give their delays; custom uses the given function', () => {
    expect(delays(fixedDelay({ delayMs: 250 }), 3)).toEqual([250, 250, 250]);
    expect(delays(immediate(), 3)).toEqual([0, 0, 0]);
    expect(delays(linearBackoff({ initialDelayMs: 100, incrementMs: 50, maxDelayMs: 220 }), 4)).toEqual([
      100, 150, 200, 220,
    ]);
    expect(delays(customPolicy({ maxAttempts: 4, delayMs: (n) => n * n * 10 }), 3)).toEqual([10, 40, 90]);
  });

  it('rejects impossible settings with invalid_input', () => {
    expect(() => exponentialBackoff({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow(/maxDelayMs/);
    expect(() => fixedDelay({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => customPolicy({ maxAttempts: 2, delayMs: 5 as unknown as () => number })).toThrow(/delayMs/);
  });
});

describe('retry', () => {
  it('retries until success, waiting each delay on the clock', async () => {
    const { clock, bus, events } = recorder();
    const { fn, calls } = flaky(clock, 2);
    const start = clock.now();
    const result = retry(fn, fixedDelay({ delayMs: 1000, maxAttempts: 5 }), {
      clock,
      events: bus,
      operation: 'fetch',
    });
    await clock.advance(999);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls).toHaveLength(2);
    await clock.advance(1000);
    await expect(result).resolves.toBe('done');
    expect(calls).toEqual([start, start + 1000, start + 2000]);
    expect(events.map((e) => [e.name, e.name === 'retry.scheduled' ? e.payload.attempt : undefined])).toEqual(
      [
        ['retry.scheduled', 1],
        ['retry.scheduled', 2],
      ],
    );
  });

  it('gives up after maxAttempts with the last error as thrown', async () => {
    const { clock, bus, events } = recorder();
    let n = 0;
    const result = retry(() => Promise.reject(new Error(`failure ${++n}`)), immediate({ maxAttempts: 3 }), {
      clock,
      events: bus,
    }).catch((e: unknown) => e);
    await clock.runAll();
    expect(await result).toMatchObject({ message: 'failure 3' });
    expect(events.at(-1)).toMatchObject({
      name: 'retry.gave_up',
      payload: { attempts: 3, reason: 'exhausted' },
    });
  });

  it('does not retry an error wrapped in PermanentError, and keeps the wrapper', async () => {
    const clock = new VirtualClock();
    const original = new Error('card declined');
    const { fn, calls } = flaky(clock, 5, () => new PermanentError(original));
    const error = await retry(fn, immediate({ maxAttempts: 5 }), { clock }).catch((e: unknown) => e);
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).cause).toBe(original);
    expect(isRetryableError(error)).toBe(false);
  });

  it('does not retry a GarrisonError marked retryable: false, and retries one marked true', async () => {
    const clock = new VirtualClock();
    const permanent = flaky(clock, 5, () => new GarrisonError('bad_request', 'no', { retryable: false }));
    await expect(retry(permanent.fn, immediate({ maxAttempts: 5 }), { clock })).rejects.toThrow('no');
    expect(permanent.calls).toHaveLength(1);
    const transient = flaky(clock, 2, () => new GarrisonError('busy', 'later', { retryable: true }));
    const result = retry(transient.fn, immediate({ maxAttempts: 5 }), { clock });
    await clock.runAll();
    await expect(result).resolves.toBe('done');
    expect(transient.calls).toHaveLength(3);
  });

  it("a policy's isRetryable overrides the default verdict", async () => {
    const clock = new VirtualClock();
    const { fn, calls } = flaky(clock, 5, () => new TypeError('bug'));
    const policy = immediate({ maxAttempts: 5, isRetryable: (e) => !(e instanceof TypeError) });
    await expect(retry(fn, policy, { clock })).rejects.toThrow('bug');
    expect(calls).toHaveLength(1);
  });

  it('an abort during a wait ends the loop at once with retry_aborted and cancels the timer', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const { fn, calls } = flaky(clock, 5);
    const result = retry(fn, fixedDelay({ delayMs: 60_000, maxAttempts: 5 }), {
      clock,
      signal: controller.signal,
    });
    const outcome = result.catch((e: unknown) => e);
    await clock.advance(10);
    expect(clock.pendingTimers).toBe(1);
    controller.abort(new Error('shutdown'));
    const error = await outcome;
    expect(error).toBeInstanceOf(RetryAbortedError);
    expect(isGarrisonError(error, 'retry_aborted')).toBe(true);
    expect((error as RetryAbortedError).attempts).toBe(1);
    expect((error as Error).cause).toMatchObject({ message: 'flaky' });
    expect(calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes the attempt number and the signal to the function', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const seen: Array<[number, AbortSignal]> = [];
    const result = retry(
      ({ attempt, signal }) => {
        seen.push([attempt, signal]);
        return attempt < 3 ? Promise.reject(new Error('again')) : Promise.resolve(attempt);
      },
      immediate({ maxAttempts: 3 }),
      { clock, signal: controller.signal },
    );
    await clock.runAll();
    await expect(result).resolves.toBe(3);
    expect(seen.map(([n, s]) => [n, s === controller.signal])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
  });
});

describe('retry budget', () => {
  it('allows retries up to ratio × calls in the window (with a floor), then denies and reports degraded', async () => {
    const clock = new VirtualClock();
    const bus = createEventBus({ clock });
    const exhausted: Array<ResilienceEvents['retry.budget_exhausted']> = [];
    bus.on('retry.budget_exhausted', (e) => {
      exhausted.push(e.payload);
    });
    const budget = createRetryBudget({
      ratio: 0.1,
      windowMs: 10_000,
      minRetriesPerWindow: 2,
      clock,
      events: bus,
    });
    for (let i = 0; i < 50; i++) budget.recordCall();
    const granted = Array.from({ length: 8 }, () => budget.tryRetry());
    expect(granted.filter(Boolean)).toHaveLength(5); // 10% of 50 calls
    expect(budget.health()).toMatchObject({
      status: 'degraded',
      calls: 50,
      retries: 5,
      denied: 3,
      allowedRetries: 5,
    });
    expect(exhausted).toHaveLength(1); // once per exhaustion, not per denial
    await clock.advance(10_000);
    expect(budget.health()).toMatchObject({
      status: 'healthy',
      calls: 0,
      retries: 0,
      denied: 0,
      allowedRetries: 2,
    });
    expect(budget.tryRetry()).toBe(true);
  });

  it('stops a retry loop with retry_budget_exhausted instead of retrying forever', async () => {
    const clock = new VirtualClock();
    const budget = createRetryBudget({ ratio: 0, minRetriesPerWindow: 3, clock });
    const { fn, calls } = flaky(clock, 100);
    const result = retry(fn, immediate({ maxAttempts: 100 }), { clock, budget }).catch((e: unknown) => e);
    await clock.runAll();
    const error = await result;
    expect(error).toBeInstanceOf(RetryBudgetExhaustedError);
    expect((error as RetryBudgetExhaustedError).attempts).toBe(4);
    expect((error as Error).cause).toMatchObject({ message: 'flaky' });
    expect(calls).toHaveLength(4);
    expect(budget.health().status).toBe('degraded');
  });
});

describe('retry around a circuit breaker', () => {
  const breakerFor = (clock: VirtualClock) =>
    new CircuitBreaker('inventory', { clock, failureThreshold: 2, resetTimeoutMs: 5000 });

  it('by default gives up at once on circuit_open: the breaker already knows the service is down', async () => {
    const { clock, bus, events } = recorder();
    const breaker = breakerFor(clock);
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('down'));
    };
    const result = retry(() => breaker.call(failing), fixedDelay({ delayMs: 100, maxAttempts: 10 }), {
      clock,
      events: bus,
    }).catch((e: unknown) => e);
    await clock.runAll();
    const error = await result;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(2); // the two failures that opened the breaker; the third attempt was refused
    expect(events.at(-1)).toMatchObject({
      name: 'retry.gave_up',
      payload: { reason: 'circuit_open', attempts: 3 },
    });
  });

  it("with onCircuitOpen 'wait' it waits out the breaker's reset timeout and succeeds through a probe", async () => {
    const clock = new VirtualClock();
    const breaker = breakerFor(clock);
    let calls = 0;
    const recovering = () => {
      calls++;
      return calls <= 2 ? Promise.reject(new Error('down')) : Promise.resolve('back');
    };
    const start = clock.now();
    let finishedAt = 0;
    const result = retry(() => breaker.call(recovering), fixedDelay({ delayMs: 100, maxAttempts: 10 }), {
      clock,
      onCircuitOpen: 'wait',
    }).then((v) => {
      finishedAt = clock.now();
      return v;
    });
    await clock.runAll();
    await expect(result).resolves.toBe('back');
    expect(calls).toBe(3);
    // Failures at 0 and 100 ms opened the breaker; the refusal at 200 ms said to wait 4900 ms more.
    expect(finishedAt - start).toBe(5100);
    expect(breaker.status().state).toBe('closed');
  });

  it('retries a breaker_timeout (it is retryable) and each timeout counts toward opening the breaker', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker('slow', { clock, failureThreshold: 2, callTimeoutMs: 1000 });
    let calls = 0;
    const result = retry(
      () =>
        breaker.call(() => {
          calls++;
          return new Promise<never>(() => {});
        }),
      immediate({ maxAttempts: 5 }),
      { clock },
    ).catch((e: unknown) => e);
    await clock.runAll();
    expect(await result).toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(2);
  });
});
