/**
 * The workflow supervisor of one node: the workflow engine (driven, not executing on its own), a
 * `DynamicSupervisor` of one `WorkflowServer` process per running run, and the launcher that starts
 * servers within the limit on running workflows. A crash of one server touches no other; a crash of the
 * launcher loses nothing (the store says what waits).
 *
 *   root (rest_for_one)
 *   ├── <id>.servers   DynamicSupervisor: WorkflowServer per running run (transient, one_for_one)
 *   └── <id>.launcher  finds claimable runs in the store and starts their servers
 */
import {
  DynamicSupervisor,
  isNormalExit,
  isRuntimeError,
  Supervisor,
  type ChildSpec,
  type ExitReason,
  type Pid,
  type Runtime,
  type SupervisorSpec,
} from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { createWorkflowEngine, type WorkflowDefinition, type WorkflowEngine } from '../../work/index.js';
import type { SupervisorHost } from './host.js';
import { launcherBehaviour, PENDING_CHANNEL, POKE } from './launcher.js';
import { resolveOptions, type ResolvedSupervisorOptions, type WorkflowSupervisorOptions } from './options.js';

/** A run and the process executing it. */
export interface WorkflowServerInfo {
  readonly workflowId: string;
  readonly pid: Pid;
}

/** Creates the workflow supervisor of a node; nothing runs until `start` (or its `childSpec` is started). */
export function createWorkflowSupervisor(options: WorkflowSupervisorOptions): WorkflowSupervisor {
  return new WorkflowSupervisor(options);
}

export class WorkflowSupervisor {
  readonly id: string;
  /**
   * The engine: start, signal, cancel, list runs through it. It executes nothing by itself: started
   * runs are durable `pending` rows until the launcher gives them a server.
   */
  readonly engine: WorkflowEngine;
  readonly maxRunning: number;
  private readonly runtime: Runtime;
  private readonly store: Store;
  private readonly options: ResolvedSupervisorOptions;
  private readonly host: SupervisorHost;
  private readonly releases = new Set<Promise<unknown>>();
  private readonly report: (error: unknown) => void;
  private notifyScheduled = false;
  private stopping = false;
  /** Set by `stopLaunching`: runs created here are announced to the other nodes. */
  private draining = false;

  constructor(options: WorkflowSupervisorOptions) {
    this.options = resolveOptions(options);
    this.id = this.options.id;
    this.maxRunning = this.options.maxRunning;
    this.runtime = options.runtime;
    this.store = options.store;
    this.report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`workflow supervisor: ${String(error)}`, 'GarrisonWarning'));
    const storeErrors = new Set<string>();
    this.engine = createWorkflowEngine({
      store: options.store,
      nodeId: options.nodeId,
      clock: options.runtime.clock,
      leaseMs: this.options.leaseMs,
      dispatcher: options.dispatcher,
      maxFlushesInFlight: options.maxFlushesInFlight,
      onError: this.report,
      // Runs are executed only by servers, and taken over only by the launcher.
      autoExecute: false,
      recoverIntervalMs: 0,
      onRunPending: (id) => this.announce(id),
      onRunClaimable: (id) => this.announce(id),
      onRunHalted: (id, reason) => {
        if (reason === 'store_error') storeErrors.add(id);
      },
    });
    if (options.workflows !== undefined) this.engine.register(...options.workflows);
    const isStopping = () => this.stopping;
    this.host = {
      runtime: this.runtime,
      store: this.store,
      engine: this.engine,
      nodeId: options.nodeId,
      options: this.options,
      servers: DynamicSupervisor.of(this.runtime, this.serversName),
      running: new Set(),
      storeErrors,
      get stopping() {
        return isStopping();
      },
      full: false,
      pokeQueued: false,
      poke: () => this.poke(),
      serverExited: (runId, reason) => this.serverExited(runId, reason),
      report: this.report,
      events: options.events,
    };
  }

  /** Makes workflows known here (needed before their runs are started or taken over here). */
  register(...definitions: Array<WorkflowDefinition<unknown, unknown>>): this {
    this.engine.register(...definitions);
    return this;
  }

  /** Starts the supervisor as a root process of the runtime: it resumes what this node may take over. */
  async start(): Promise<void> {
    await Supervisor.start(this.runtime, this.treeSpec(), { name: this.id });
  }

  /** The supervisor as a child of another (a node's tree). */
  childSpec(): ChildSpec {
    return Supervisor.childSpec(this.runtime, this.treeSpec(), { name: this.id });
  }

  /** The runs that have a server now, with their processes. */
  async servers(): Promise<WorkflowServerInfo[]> {
    const children = await this.host.servers.whichChildren();
    return children.map((c) => ({ workflowId: c.id, pid: c.pid }));
  }

  /**
   * Starts no new server from now on (a draining node): the runs executing here go on until `stop`, and
   * every other run is left to other nodes.
   */
  stopLaunching(): void {
    this.stopping = true;
    this.draining = true;
  }

  /**
   * Stops the servers (their runs' leases are ended, for any node to take them over at once), the
   * launcher, and the engine. A supervisor started with `childSpec` is stopped by its parent first.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.draining = false;
    if (this.runtime.isAlive(this.id)) await Supervisor.of(this.runtime, this.id).stop();
    await Promise.all([...this.releases]);
    await this.engine.stop();
  }

  // ---- internals ------------------------------------------------------------------------------------

  private get serversName(): string {
    return `${this.id}.servers`;
  }

  private get launcherName(): string {
    return `${this.id}.launcher`;
  }

  private treeSpec(): SupervisorSpec {
    return {
      id: this.id,
      // The launcher's view is rebuilt from the servers' supervisor: when that restarts, so does it.
      strategy: 'rest_for_one',
      children: [
        DynamicSupervisor.childSpec(
          this.runtime,
          {
            id: this.serversName,
            maxRestarts: this.options.maxRestarts,
            periodMs: this.options.restartPeriodMs,
          },
          { name: this.serversName },
        ),
        {
          id: this.launcherName,
          start: (o) => this.runtime.spawn(launcherBehaviour, this.host, { ...o, name: this.launcherName }),
        },
      ],
    };
  }

  /** A run was created pending here, resumed, or cancelled with nobody executing it. */
  private announce(_id: string): void {
    this.poke();
    // Every slot here is taken (or this node is draining): another node with room may start it now
    // rather than after a scan.
    if ((this.host.full || this.draining) && !this.notifyScheduled) {
      this.notifyScheduled = true;
      setImmediate(() => {
        this.notifyScheduled = false;
        this.track(this.store.notify(PENDING_CHANNEL));
      });
    }
  }

  private poke(): void {
    const host = this.host;
    if (host.pokeQueued || this.stopping || !this.runtime.isAlive(this.launcherName)) return;
    host.pokeQueued = true;
    this.runtime.send(this.launcherName, POKE).catch((error: unknown) => {
      host.pokeQueued = false;
      // `noproc`: the launcher is restarting; it looks at the store when it starts.
      if (!isRuntimeError(error, 'noproc')) this.report(error);
    });
  }

  private serverExited(runId: string, reason: ExitReason): void {
    if (!isNormalExit(reason)) {
      // A crash: the execution ends with its process, and the restarted server resumes the run from its
      // journal (the run stays this node's, so it is taken over again at once).
      this.track(this.engine.haltRun(runId));
      return;
    }
    this.host.running.delete(runId);
    // Stopped by its supervisor: end the lease too, so that any node may take the run over at once.
    if (reason === 'shutdown') this.track(this.engine.haltRun(runId, { release: true }));
    this.poke();
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.report(error));
    this.releases.add(tracked);
    void tracked.finally(() => this.releases.delete(tracked));
  }
}
