/**
 * Wake-ups for waiters: one subscription per service on one store channel, whose payload names what
 * changed (`lock:<name>`, `barrier:<name>`, …). Writers announce inside their transaction, so the wake-up
 * goes out with the commit (PostgreSQL: NOTIFY to every node; SQLite: this store's own listeners). A
 * waiter watches before it looks at the store, so a change between its look and its sleep still wakes
 * it; it also wakes on the clock — at a known expiry, its deadline, and at the latest after `pollMs`,
 * which covers wake-ups that cannot arrive (another SQLite process, a lost LISTEN connection).
 */
import type { Clock } from '../../runtime/index.js';
import type { Store, Unsubscribe } from '../../store/index.js';
import { CoordinationClosedError } from './errors.js';

/** The store channel every coordination change is announced on. */
export const COORDINATION_CHANNEL = 'garrison_coordination';

/** One waiter's interest in one key. */
export class Watch {
  private version = 0;
  private sleeper: (() => void) | undefined;
  private aborted = false;

  constructor(
    private readonly clock: Clock,
    private readonly onClose: (watch: Watch) => void,
  ) {}

  /** A counter of wake-ups so far: pass it to `sleep` to sleep only if nothing happened since. */
  get seen(): number {
    return this.version;
  }

  poke(): void {
    this.version++;
    this.sleeper?.();
  }

  abort(): void {
    this.aborted = true;
    this.poke();
  }

  /** Resolves on a wake-up after `since` (at once if one came already) or after `ms`. */
  async sleep(since: number, ms: number): Promise<void> {
    if (this.aborted) throw new CoordinationClosedError();
    if (this.version === since) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimer(ms, () => done());
        const done = () => {
          timer.cancel();
          this.sleeper = undefined;
          resolve();
        };
        this.sleeper = done;
      });
    }
    if (this.aborted) throw new CoordinationClosedError();
  }

  close(): void {
    this.sleeper?.();
    this.onClose(this);
  }
}

export class Wakeups {
  private readonly watches = new Map<string, Set<Watch>>();
  private subscription: Promise<Unsubscribe> | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Watches `key`; resolves once the store listens, so a change committed after it wakes the watch. */
  async watch(key: string): Promise<Watch> {
    if (this.closed) throw new CoordinationClosedError();
    this.subscription ??= this.store.listen(COORDINATION_CHANNEL, (payload) => this.wake(payload));
    try {
      await this.subscription;
    } catch (error) {
      this.subscription = undefined;
      throw error;
    }
    if (this.closed) throw new CoordinationClosedError();
    const watch = new Watch(this.clock, (w) => this.unwatch(key, w));
    let set = this.watches.get(key);
    if (set === undefined) {
      set = new Set();
      this.watches.set(key, set);
    }
    set.add(watch);
    return watch;
  }

  /** Announces a change of `key`. Inside a transaction of the store it goes out with the commit. */
  announce(key: string): Promise<void> {
    return this.store.notify(COORDINATION_CHANNEL, key);
  }

  /** Waiters now. */
  get waiting(): number {
    let n = 0;
    for (const set of this.watches.values()) n += set.size;
    return n;
  }

  /** Ends every wait with `coordination_closed` and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of this.watches.values()) for (const watch of set) watch.abort();
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription === undefined) return;
    let unsubscribe: Unsubscribe;
    try {
      unsubscribe = await subscription;
    } catch {
      return; // it never listened: nothing to stop (its waiter got the error)
    }
    await unsubscribe();
  }

  private wake(key: string): void {
    for (const watch of this.watches.get(key) ?? []) watch.poke();
  }

  private unwatch(key: string, watch: Watch): void {
    const set = this.watches.get(key);
    if (set === undefined) return;
    set.delete(watch);
    if (set.size === 0) this.watches.delete(key);
  }
}

/** What one look at the store found: the value waited for, or when to look again at the latest. */
export type Look<T> =
  { readonly done: true; readonly value: T } | { readonly done: false; readonly wakeAt?: number };

/** Returned by `waitUntil` when the deadline passed first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Looks with `look` until it is done or `deadline` (clock ms) has passed, sleeping between looks until a
 * wake-up on `key`, the look's `wakeAt`, the deadline or `pollMs`, whichever comes first. The last look
 * is made at the deadline.
 */
export async function waitUntil<T>(
  wakeups: Wakeups,
  clock: Clock,
  pollMs: number,
  key: string,
  deadline: number,
  look: () => Promise<Look<T>>,
): Promise<T | typeof TIMED_OUT> {
  const watch = await wakeups.watch(key);
  try {
    for (;;) {
      const seen = watch.seen;
      const found = await look();
      if (found.done) return found.value;
      const now = clock.now();
      if (now >= deadline) return TIMED_OUT;
      const until = Math.min(deadline, found.wakeAt ?? Infinity, now + pollMs);
      await watch.sleep(seen, Math.max(0, until - now));
    }
  } finally {
    watch.close();
  }
}
