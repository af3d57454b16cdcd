import type { VirtualClock } from '../../src/runtime/index.js';

/** Anything with work in flight that a test waits for (a `DurableTimers`, a `SchedulerManager`). */
export interface Drainable {
  idle(): Promise<void>;
}

/**
 * Moves the virtual clock forward by `ms`, one due time at a time, and after each waits until every
 * `drains` has no store round trip in flight — so a firing settles (and arms its next due time) before
 * time moves past it. Without it, `advance` would outrun PostgreSQL's asynchronous I/O.
 */
export async function advanceAndDrain(
  clock: VirtualClock,
  drains: readonly Drainable[],
  ms: number,
): Promise<void> {
  const target = clock.now() + Math.max(0, ms);
  const drain = () => Promise.all(drains.map((d) => d.idle()));
  for (;;) {
    await drain();
    const next = clock.nextDueAt();
    if (next !== undefined && next <= target) await clock.advanceTo(Math.max(next, clock.now()));
    else if (clock.now() < target) await clock.advanceTo(target);
    else return;
  }
}
