/**
 * Every in-memory wait of the engine (sleeps, retry back-offs, signal timeouts, result timeouts, the
 * lease tick) in one min-heap, with a single clock timer armed for the earliest. Thousands of sleeping
 * runs cost one timer, not thousands.
 */
import type { Clock, TimerHandle } from '../../runtime/clock.js';

interface Entry {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | undefined;
}

/** A scheduled callback; `cancel` is a no-op once it has run. */
export interface DueHandle {
  cancel(): void;
}

export class DueTimers {
  private readonly heap: Entry[] = [];
  private seq = 0;
  private armed: { at: number; handle: TimerHandle } | undefined;
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  /** Calls `fn` once the clock reaches `at` (UNIX epoch ms); at once (on the next timer) when past. */
  at(at: number, fn: () => void): DueHandle {
    const entry: Entry = { at, seq: this.seq++, fn };
    if (this.stopped) return { cancel: () => undefined };
    this.push(entry);
    this.arm();
    return {
      cancel: () => {
        entry.fn = undefined;
      },
    };
  }

  /** Entries not yet run or cancelled. */
  get size(): number {
    return this.heap.filter((e) => e.fn !== undefined).length;
  }

  /** Cancels everything and refuses new entries. */
  stop(): void {
    this.stopped = true;
    this.armed?.handle.cancel();
    this.armed = undefined;
    this.heap.length = 0;
  }

  private arm(): void {
    this.dropCancelledTop();
    const top = this.heap[0];
    if (top === undefined) {
      this.armed?.handle.cancel();
      this.armed = undefined;
      return;
    }
    if (this.armed !== undefined && this.armed.at <= top.at) return;
    this.armed?.handle.cancel();
    const at = top.at;
    this.armed = { at, handle: this.clock.setTimer(at - this.clock.now(), () => this.fire()) };
  }

  private fire(): void {
    this.armed = undefined;
    const now = this.clock.now();
    const due: Array<() => void> = [];
    for (;;) {
      this.dropCancelledTop();
      const top = this.heap[0];
      if (top === undefined || top.at > now) break;
      this.pop();
      if (top.fn !== undefined) due.push(top.fn);
      top.fn = undefined;
    }
    for (const fn of due) fn();
    if (!this.stopped) this.arm();
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]?.fn === undefined) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Entry;
      if (!this.less(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.less(heap[r] as Entry, heap[l] as Entry) ? r : l;
      const c = heap[child] as Entry;
      if (!this.less(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
  }
}
