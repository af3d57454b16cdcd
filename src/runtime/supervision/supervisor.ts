import type { Pid, ProcessRef } from '../pid.js';
import type { ExitReason } from '../reasons.js';
import type { ProcessCallOptions, Runtime } from '../runtime.js';
import type { SupervisorDescription } from './describe.js';
import { describeResolved } from './describe.js';
import { unwrap, type Result } from './result.js';
import {
  parseSupervisorSpec,
  type ChildSpec,
  type ChildShutdown,
  type RestartType,
  type SupervisorSpec,
} from './spec.js';
import { SupRequest, supervisorBehaviour, type ChildInfo } from './supervisor-server.js';

/** Where and how a supervisor process is started. */
export interface SupervisorStartOptions {
  /** Registers the supervisor under this name. Default: none. */
  name?: string;
  /** Links it to this process (its parent supervisor). Default: none. */
  link?: Pid;
}

/** How a supervisor is placed under another supervisor. */
export interface SupervisorChildOptions {
  /** Default: `permanent`. */
  restart?: RestartType;
  /** Default: `infinity` (each of its children has its own shutdown time). */
  shutdownMs?: ChildShutdown;
  /** Registers the supervisor under this name when started. Default: none. */
  name?: string;
}

/**
 * A handle on a supervisor process: ordered start of its children, restarts by strategy within the restart
 * intensity, reverse-ordered shutdown. The handle refers to the supervisor by name when it has one, so it
 * stays valid across restarts by its own parent.
 */
export class Supervisor {
  private constructor(
    readonly runtime: Runtime,
    /** The name, or the pid when unnamed. */
    readonly ref: ProcessRef,
  ) {}

  /**
   * Starts a supervisor and its children in order; resolves once all are running. If a child fails to
   * start, the ones already started are stopped in reverse order and this fails with `init_failed` (cause:
   * `child_start_failed`).
   */
  static async start(
    runtime: Runtime,
    spec: SupervisorSpec,
    options: SupervisorStartOptions = {},
  ): Promise<Supervisor> {
    const resolved = parseSupervisorSpec(spec);
    const pid = await runtime.spawn(supervisorBehaviour, resolved, { ...options, trapExit: true });
    return new Supervisor(runtime, options.name ?? pid);
  }

  /** A child spec that starts this supervisor under another one (and describes it in the parent's tree). */
  static childSpec(runtime: Runtime, spec: SupervisorSpec, options: SupervisorChildOptions = {}): ChildSpec {
    const resolved = parseSupervisorSpec(spec);
    return {
      id: resolved.id,
      type: 'supervisor',
      restart: options.restart ?? 'permanent',
      shutdownMs: options.shutdownMs ?? 'infinity',
      start: (o) =>
        runtime.spawn(supervisorBehaviour, resolved, {
          link: o.link,
          trapExit: true,
          ...(options.name === undefined ? {} : { name: options.name }),
        }),
      describe: () => describeResolved(resolved),
    };
  }

  /** A handle on a running supervisor (by name or pid). */
  static of(runtime: Runtime, ref: ProcessRef): Supervisor {
    return new Supervisor(runtime, ref);
  }

  /** The supervisor's current pid, if it is alive. */
  get pid(): Pid | undefined {
    return this.runtime.lookup(this.ref)?.pid;
  }

  /** Its children in start order. */
  async whichChildren(options?: ProcessCallOptions): Promise<ChildInfo[]> {
    return this.request<ChildInfo[]>(new SupRequest('which'), options);
  }

  /** Stops a child (as at shutdown) without restarting it; a temporary child's spec is removed. */
  async terminateChild(id: string, options?: ProcessCallOptions): Promise<void> {
    await this.request<undefined>(new SupRequest('terminate', id), options);
  }

  /** Starts a child that is not running (after `terminateChild`, or a transient child that ended). */
  async restartChild(id: string, options?: ProcessCallOptions): Promise<Pid> {
    return this.request<Pid>(new SupRequest('restart', id), options);
  }

  /** Describes the running supervisor (its current children specs), in the form of `describeTree`. */
  async describe(options?: ProcessCallOptions): Promise<SupervisorDescription> {
    return this.request<SupervisorDescription>(new SupRequest('describe'), options);
  }

  /** Stops the supervisor: its children in reverse order, then itself. Resolves with its exit reason. */
  async stop(reason: ExitReason = 'shutdown', timeoutMs = Infinity): Promise<ExitReason> {
    return this.runtime.stop(this.ref, reason, { timeoutMs });
  }

  private async request<T>(req: SupRequest, options?: ProcessCallOptions): Promise<T> {
    return unwrap(await this.runtime.call<Result<T>>(this.ref, req, options));
  }
}

export type { ChildInfo };
