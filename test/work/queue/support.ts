/** Helpers shared by the queue tests. */
import type { Store } from '../../../src/store/index.js';
import type { Worker } from '../../../src/work/index.js';

/**
 * Waits until `check` holds, looking again after each bit of real I/O; fails with `what` when it never
 * does. A guard against hanging, not a measure of speed.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 2000,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, i < 50 ? 1 : 10));
  }
  throw new Error(`never happened: ${what}`);
}

/** Resolves on the worker's next `idle` event (it has armed its wake-up timer and waits). */
export function nextIdle(worker: Pick<Worker, 'on'>): Promise<void> {
  return new Promise((resolve) => {
    const off = worker.on('idle', () => {
      off();
      resolve();
    });
  });
}

/** A promise with its resolver, for handlers the test releases by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Rows in the task table, optionally of one state. */
export async function countTasks(store: Store, state?: string): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    state === undefined
      ? 'SELECT COUNT(*) AS n FROM garrison_tasks'
      : 'SELECT COUNT(*) AS n FROM garrison_tasks WHERE state = $1',
    state === undefined ? [] : [state],
  );
  return Number(rows[0]?.n ?? 0);
}
