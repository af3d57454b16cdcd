/**
 * Noticing, on SQLite, that another process committed: SQLite has no NOTIFY, but `PRAGMA data_version`
 * on a connection changes whenever another connection commits to the file. Polling it costs one tiny read
 * of a page already in memory, so a node can look every few ms and wake its engine and workers when
 * someone else (a client, another node) wrote — instead of waiting for its next lease tick or poll. A
 * change is only a hint to look at the store; commits of this process's own writing connection count
 * too. On PostgreSQL, where LISTEN/NOTIFY carries the wake-ups, nothing is polled.
 */
import type { StoreTimers } from './postgres/listener.js';
import type { Store } from './types.js';

export interface CommitWatch {
  /** Stops polling; a check in flight finishes without calling `onChange`. */
  stop(): void;
}

export interface CommitWatchOptions {
  /** How often to look, in ms. */
  readonly intervalMs: number;
  /** Timers to poll with (the runtime's `Clock` fits). */
  readonly timers: StoreTimers;
  /** Called after a check that saw another connection's commit. */
  readonly onChange: () => void;
  /** A failed check (the store is closing, the disk is away): polling goes on. */
  readonly onError: (error: unknown) => void;
}

/** Watches for other connections' commits; a no-op on stores that notify across processes. */
export function watchCommits(store: Store, options: CommitWatchOptions): CommitWatch {
  if (store.dialect !== 'sqlite' || options.intervalMs <= 0) return { stop: () => undefined };
  let stopped = false;
  let last: number | undefined;
  let timer: { cancel(): void } | undefined;
  const check = async (): Promise<void> => {
    try {
      const rows = await store.query<{ data_version: number }>('PRAGMA data_version');
      const version = Number(rows[0]?.data_version);
      if (stopped) return;
      if (last !== undefined && version !== last) options.onChange();
      last = version;
    } catch (error) {
      if (!stopped) options.onError(error);
    }
  };
  const arm = (): void => {
    if (stopped) return;
    timer = options.timers.setTimer(options.intervalMs, () => {
      void check().finally(arm);
    });
  };
  void check().finally(arm);
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
