/**
 * A retry budget: retries may be at most `ratio` of calls over a sliding window (plus a small floor so a
 * quiet service can still retry). When retries would exceed it the budget says no, and reports itself
 * degraded, instead of letting retries multiply the load on a struggling service.
 */
import { z } from 'zod';
import { systemClock, type Clock } from '../runtime/clock.js';
import { emitTo, type EventSink, type ResilienceEvents } from '../telemetry/index.js';
import { parseOptions } from './validate.js';

export interface RetryBudgetOptions {
  /** A name for events and health. Default `retry_budget`. */
  readonly name?: string;
  /** Retries allowed per call made in the window (0.2 = one retry per five calls). Default 0.2. */
  readonly ratio?: number;
  /** The sliding window, in ms. Default 10000. */
  readonly windowMs?: number;
  /** Retries always allowed per window, whatever the ratio. Default 10. */
  readonly minRetriesPerWindow?: number;
  /** Time source. Default the system clock. */
  readonly clock?: Clock;
  /** Where `retry.budget_exhausted` goes. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

/** `healthy` while no retry was denied in the window; `degraded` otherwise. */
export type BudgetHealthStatus = 'healthy' | 'degraded';

export interface RetryBudgetHealth {
  readonly name: string;
  readonly status: BudgetHealthStatus;
  /** Calls recorded in the window. */
  readonly calls: number;
  /** Retries granted in the window. */
  readonly retries: number;
  /** Retries denied in the window. */
  readonly denied: number;
  /** Retries the window allows now. */
  readonly allowedRetries: number;
}

export interface RetryBudget {
  readonly name: string;
  /** Records a first attempt (a call, not a retry). */
  recordCall(): void;
  /** Asks for one retry: true (and counted) when the budget allows it. */
  tryRetry(): boolean;
  health(): RetryBudgetHealth;
}

// The window is kept as this many slices, so memory is fixed however busy the service is; it slides one
// slice (windowMs / 10) at a time.
const SLICES = 10;

interface Slice {
  start: number;
  calls: number;
  retries: number;
  denied: number;
}

export function createRetryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const o = parseOptions(
    z.object({
      name: z.string().min(1).default('retry_budget'),
      ratio: z.number().min(0).finite().default(0.2),
      windowMs: z.number().int().min(SLICES).default(10_000),
      minRetriesPerWindow: z.number().int().min(0).default(10),
    }),
    options,
    'retry budget options',
  );
  const clock = options.clock ?? systemClock;
  const sliceMs = o.windowMs / SLICES;
  const slices: Slice[] = [];

  const slice = (): Slice => {
    const start = Math.floor(clock.now() / sliceMs) * sliceMs;
    const last = slices[slices.length - 1];
    if (last !== undefined && last.start === start) return last;
    const fresh = { start, calls: 0, retries: 0, denied: 0 };
    slices.push(fresh);
    while (slices.length > SLICES) slices.shift();
    return fresh;
  };

  const totals = () => {
    const since = clock.now() - o.windowMs;
    let calls = 0;
    let retries = 0;
    let denied = 0;
    for (const s of slices) {
      if (s.start <= since) continue;
      calls += s.calls;
      retries += s.retries;
      denied += s.denied;
    }
    const allowedRetries = Math.max(o.minRetriesPerWindow, Math.floor(calls * o.ratio));
    return { calls, retries, denied, allowedRetries };
  };

  return {
    name: o.name,
    recordCall() {
      slice().calls++;
    },
    tryRetry() {
      const t = totals();
      const current = slice();
      if (t.retries < t.allowedRetries) {
        current.retries++;
        return true;
      }
      current.denied++;
      if (t.denied === 0) {
        emitTo(options.events, 'retry.budget_exhausted', {
          budget: o.name,
          calls: t.calls,
          retries: t.retries,
          allowedRetries: t.allowedRetries,
        });
      }
      return false;
    },
    health() {
      const t = totals();
      return { name: o.name, status: t.denied > 0 ? 'degraded' : 'healthy', ...t };
    },
  };
}
