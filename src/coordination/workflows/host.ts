/**
 * What the supervisor's processes share: the engine, the set of runs that have a server (a cache of the
 * servers' supervisor, rebuilt from it whenever the launcher starts), and the way a server's exit reaches
 * the engine and the launcher. The store holds the truth; nothing here is more than a cache.
 */
import type { DynamicSupervisor, ExitReason, Runtime } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { WorkflowEngine } from '../../work/index.js';
import type { ResolvedSupervisorOptions, WorkflowSupervisorOptions } from './options.js';

export interface SupervisorHost {
  readonly runtime: Runtime;
  readonly store: Store;
  readonly engine: WorkflowEngine;
  readonly nodeId: string;
  readonly options: ResolvedSupervisorOptions;
  /** The `DynamicSupervisor` of the servers (by name: valid across its restarts). */
  readonly servers: DynamicSupervisor;
  /** Ids of the runs that have a `WorkflowServer` now (started, or being restarted after a crash). */
  running: Set<string>;
  /** Runs whose execution here halted on a failed journal write: their server crashes and is restarted. */
  readonly storeErrors: Set<string>;
  /** Set while the supervisor stops: no new servers. */
  readonly stopping: boolean;
  /** True once the launcher found every slot taken (new runs are then announced to other nodes). */
  full: boolean;
  /** A wake-up for the launcher is in its mailbox (at most one is). */
  pokeQueued: boolean;
  /** Asks the launcher to look for runs to start (coalesced). */
  poke(): void;
  /** A server's process exited (normally, stopped by its supervisor, or crashed). */
  serverExited(runId: string, reason: ExitReason): void;
  report(error: unknown): void;
  /** Where a run's end is reported (`workflow.finished`), if anywhere. */
  readonly events: WorkflowSupervisorOptions['events'];
}
