/** Time limits on the injected clock: no host timer is made here (seed flaw 5). */
import type { Clock, TimerHandle } from '../runtime/index.js';
import { GovernanceTimeoutError } from './errors.js';

/**
 * Runs `run` and settles with its outcome, or rejects with `GovernanceTimeoutError` once `timeoutMs` has
 * passed on `clock` (the signal given to `run` is then aborted with that error). `Infinity` sets no
 * timer. The timer is cancelled as soon as the run settles, so nothing is left pending.
 */
export function withTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  operation: string,
  run: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  // An async wrapper turns a synchronous throw from `run` into a rejection like any other.
  const outcome = (async () => run(controller.signal))();
  if (!Number.isFinite(timeoutMs)) return outcome;
  let timer: TimerHandle | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = clock.setTimer(timeoutMs, () => {
      const error = new GovernanceTimeoutError(operation, timeoutMs);
      controller.abort(error);
      reject(error);
    });
  });
  return Promise.race([outcome, expired]).finally(() => timer?.cancel());
}
