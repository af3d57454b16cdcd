/**
 * The host's record of one agent it runs: its definition, its current process (which changes at every
 * restart), its queue consumer, and the callers waiting for a live process. The record outlives the
 * agent's processes; it ends when the agent is stopped or its process dies for good.
 */
import type { Pid, RestartType } from '../runtime/index.js';
import type { AgentDefinition } from './agent.js';
import { agentNotRunning } from './errors.js';

export type HostedPhase =
  /** The first process is starting. */
  | 'starting'
  /** A process is alive. */
  | 'running'
  /** The process died; its supervisor is restarting it. */
  | 'restarting'
  /** `stop` is ending it. */
  | 'stopping'
  /** It ended for good. */
  | 'gone';

interface Waiter {
  resolve(pid: Pid): void;
  reject(error: Error): void;
}

/** Why a wait was abandoned, as an Error. */
function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

/** A consumer of the agent's queue, as the record drives it. */
export interface Consumer {
  /** Stops taking tasks; the running one gets up to `timeoutMs` (default 10 s), then is handed back. */
  stop(timeoutMs?: number): Promise<void>;
}

export class Hosted {
  phase: HostedPhase = 'starting';
  /** The live process, if any. */
  pid: Pid | undefined;
  /** The registry `process` of the latest process (kept after it died, to clean its entry up). */
  processId: string | undefined;
  /**
   * Whether the agent is paused, as last committed by this host or its process: lets the host refuse a
   * call at once instead of queueing it behind a running task.
   */
  paused = false;
  /** Processes started for this record: above 1, the latest was a restart. */
  incarnations = 0;
  /** The queue consumer, while the agent is not paused. */
  consumer: Consumer | undefined;
  /** Resolves when the last consumer has stopped (a new one starts only after). */
  consumerStopped: Promise<void> = Promise.resolve();
  private waiters = new Set<Waiter>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly def: AgentDefinition,
    readonly restart: RestartType,
  ) {}

  /** A process of the agent finished its `init`. */
  attach(pid: Pid, processId: string): void {
    this.pid = pid;
    this.processId = processId;
    if (this.phase === 'starting' || this.phase === 'restarting') this.phase = 'running';
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w.resolve(pid);
  }

  /** The process `pid` exited. */
  detach(pid: Pid): void {
    if (this.pid === pid) this.pid = undefined;
  }

  /** The agent ended for good: waiters fail with `agent_not_running`. */
  end(why: string): void {
    this.phase = 'gone';
    this.pid = undefined;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w.reject(agentNotRunning(this.id, why));
  }

  /** The live process, waiting through a restart; fails once the agent is gone or `signal` aborts. */
  live(signal?: AbortSignal): Promise<Pid> {
    if (this.pid !== undefined) return Promise.resolve(this.pid);
    if (this.phase === 'gone') return Promise.reject(agentNotRunning(this.id, 'it has ended'));
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    return new Promise<Pid>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(abortError(signal));
      };
      const waiter: Waiter = {
        resolve: (pid) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(pid);
        },
        reject: (error: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves once every `serial` operation queued so far has finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Runs `fn` after every earlier `serial` operation of this agent (registry changes keep their order). */
  serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
