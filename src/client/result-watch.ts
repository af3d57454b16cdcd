/**
 * How a client waits for runs it does not execute: by watching the store. PostgreSQL: the engines'
 * "done" wake-ups (LISTEN), with a slow poll as the safety net for wake-ups lost while the LISTEN
 * connection was down. SQLite: `PRAGMA data_version` polled every few ms, and the awaited runs read only
 * when another connection committed. Every waiter is ended by its run's end, its timeout, its abort
 * signal, or `close`.
 */
import type { Clock, TimerHandle } from '../runtime/clock.js';
import { watchCommits, type CommitWatch } from '../store/commit-watch.js';
import type { Store, Unsubscribe } from '../store/index.js';
import { WORKFLOWS_CHANNEL } from '../work/workflow/channels.js';
import { WorkflowError, WorkflowErrorCode } from '../work/workflow/errors.js';
import { finalOf, notFound, type Final } from '../work/workflow/outcomes.js';
import { readRuns } from '../work/workflow/runs.js';

interface Waiter {
  readonly resolve: (final: Final) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
}

export interface ResultWatchOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** SQLite: how often to look for other connections' commits, in ms. */
  readonly pollMs: number;
  /** PostgreSQL: the safety-net poll, in ms. */
  readonly safetyPollMs: number;
  readonly report: (error: unknown) => void;
}

export class ResultWatch {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private started: Promise<void> | undefined;
  private unlisten: Unsubscribe | undefined;
  private watch: CommitWatch | undefined;
  private safety: TimerHandle | undefined;
  private reading = false;
  private readAgain = false;
  private closed = false;

  constructor(private readonly o: ResultWatchOptions) {}

  /** Waits for run `id` to end; `workflow_timeout` after `timeoutMs`, the signal's reason on abort. */
  async wait(id: string, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<Final> {
    if (this.closed) throw closedError();
    if (signal?.aborted === true) throw abortReason(signal);
    await (this.started ??= this.start());
    return new Promise<Final>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = () => end(() => reject(abortReason(signal)));
      const waiter: Waiter = {
        resolve: (final) => end(() => resolve(final)),
        reject: (error) => end(() => reject(error)),
        cleanup: () => {
          timer?.cancel();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const end = (settle: () => void) => {
        const set = this.waiters.get(id);
        if (set === undefined || !set.delete(waiter)) return;
        if (set.size === 0) this.waiters.delete(id);
        waiter.cleanup();
        settle();
      };
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== undefined) {
        timer = this.o.clock.setTimer(timeoutMs, () =>
          end(() =>
            reject(
              new WorkflowError(
                WorkflowErrorCode.timeout,
                `workflow ${id} did not finish within ${timeoutMs} ms`,
                {
                  details: { workflowId: id, timeoutMs },
                },
              ),
            ),
          ),
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      // Aborted while the watch was starting: no abort event will come any more.
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      // Listening already: a run that ends from now on is seen; this read sees one that ended before.
      this.look();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.stop();
    this.safety?.cancel();
    for (const [, set] of this.waiters) for (const w of [...set]) w.reject(closedError());
    if (this.unlisten !== undefined) await this.unlisten();
  }

  private async start(): Promise<void> {
    const { store } = this.o;
    if (store.dialect === 'postgres') {
      this.unlisten = await store.listen(WORKFLOWS_CHANNEL, (payload) => this.onNotification(payload));
      this.armSafety();
    } else {
      this.watch = watchCommits(store, {
        intervalMs: this.o.pollMs,
        timers: this.o.clock,
        onChange: () => this.look(),
        onError: this.o.report,
      });
    }
  }

  private armSafety(): void {
    if (this.closed) return;
    this.safety = this.o.clock.setTimer(this.o.safetyPollMs, () => {
      this.look();
      this.armSafety();
    });
  }

  private onNotification(payload: string): void {
    let message: { k?: unknown; ids?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return; // not one of ours: a wake-up is only a hint
    }
    if (message.k !== 'done' || !Array.isArray(message.ids)) return;
    if (message.ids.some((id) => typeof id === 'string' && this.waiters.has(id))) this.look();
  }

  /** Reads the awaited runs (one read at a time; one more after it when asked meanwhile). */
  private look(): void {
    if (this.closed || this.waiters.size === 0) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void (async () => {
      try {
        do {
          this.readAgain = false;
          const ids = [...this.waiters.keys()];
          if (ids.length === 0) break;
          const rows = await readRuns(this.o.store, ids);
          const found = new Set(rows.map((r) => r.id));
          for (const row of rows) {
            const final = finalOf(row);
            if (final !== undefined) for (const w of [...(this.waiters.get(row.id) ?? [])]) w.resolve(final);
          }
          for (const id of ids) {
            if (!found.has(id)) for (const w of [...(this.waiters.get(id) ?? [])]) w.reject(notFound(id));
          }
        } while (this.readAgain && !this.closed);
      } catch (error) {
        this.o.report(error);
      } finally {
        this.reading = false;
      }
    })();
  }
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

function closedError(): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.stopped, 'the client was closed while a result was awaited');
}
