/** Waiting through the injected clock, cancellable by an AbortSignal. */
import type { Clock } from '../runtime/clock.js';

/**
 * Resolves after `ms` on `clock`, or rejects with `onAbort(signal.reason)` (default: the reason itself when it is an Error) as soon as `signal` aborts (the
 * timer is then cancelled, so nothing is left pending).
 */
export function sleep(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  onAbort: (reason: unknown) => Error = (reason) =>
    reason instanceof Error ? reason : new Error(String(reason)),
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(onAbort(signal.reason));
      return;
    }
    const abort = () => {
      timer.cancel();
      reject(onAbort(signal?.reason));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    });
    signal?.addEventListener('abort', abort, { once: true });
  });
}
