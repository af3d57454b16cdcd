import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { isExit, type Behaviour, type CallResult, type ProcessContext } from '../behaviour.js';
import { BadMessageError, ChildNotFoundError, ChildStartError, MaxChildrenError } from '../errors.js';
import type { Pid, ProcessRef } from '../pid.js';
import { isNormalExit, type ExitReason } from '../reasons.js';
import type { ProcessCallOptions, Runtime } from '../runtime.js';
import { shutdownChild, startChild } from './child-process.js';
import type { DynamicSupervisorDescription } from './describe.js';
import { RestartIntensity } from './intensity.js';
import { err, ok, unwrap, type Result } from './result.js';
import {
  idSchema,
  intensitySchema,
  parseChildSpec,
  type ChildSpec,
  type IntensityOptions,
  type ResolvedChildSpec,
  type RestartType,
  type ChildShutdown,
} from './spec.js';
import type { SupervisorStartOptions } from './supervisor.js';

export interface DynamicSupervisorSpec extends IntensityOptions {
  /** Names the supervisor in descriptions, errors and events. */
  id: string;
  /** At most this many children at once; `startChild` past it fails with `max_children`. Default: no limit. */
  maxChildren?: number;
}

interface ResolvedSpec {
  readonly id: string;
  readonly maxChildren: number | null;
  readonly maxRestarts: number;
  readonly periodMs: number;
}

const specSchema = z.strictObject({
  id: idSchema,
  maxChildren: z.number().int().min(0).optional(),
  ...intensitySchema,
});

function parseSpec(spec: DynamicSupervisorSpec): ResolvedSpec {
  const parsed = specSchema.safeParse(spec);
  if (!parsed.success)
    throw new ValidationError(`invalid dynamic supervisor spec: ${describeIssues(parsed.error.issues)}`);
  return { ...parsed.data, maxChildren: parsed.data.maxChildren ?? null };
}

function describeSpec(spec: ResolvedSpec): DynamicSupervisorDescription {
  return { kind: 'dynamic_supervisor', ...spec };
}

/** A dynamic child as `whichChildren` reports it. */
export interface DynamicChildInfo {
  readonly id: string;
  readonly pid: Pid;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
}

interface DynState {
  readonly spec: ResolvedSpec;
  /** Keyed by pid (identity); insertion order is start order. */
  readonly children: Map<Pid, ResolvedChildSpec>;
  /** Children whose restart failed and is being retried; they count toward `maxChildren`. */
  pendingRestarts: number;
  readonly intensity: RestartIntensity;
}

class DynRequest {
  constructor(
    readonly op: 'start' | 'terminate' | 'which' | 'count',
    readonly spec?: ResolvedChildSpec,
    readonly pid?: Pid,
  ) {}
}

class RetryRestart {
  constructor(
    readonly spec: ResolvedChildSpec,
    readonly reason: ExitReason,
    readonly oldPid: Pid,
  ) {}
}

async function restart(
  ctx: ProcessContext,
  state: DynState,
  spec: ResolvedChildSpec,
  reason: ExitReason,
  oldPid: Pid,
): Promise<void> {
  const rt = ctx.runtime;
  if (!state.intensity.record(rt.clock.now())) {
    const { maxRestarts, periodMs } = state.intensity;
    rt.emit({
      type: 'max_restart_intensity',
      at: rt.clock.now(),
      supervisor: ctx.self,
      maxRestarts,
      periodMs,
    });
    ctx.stop('reached_max_restart_intensity');
    return;
  }
  try {
    const pid = await startChild(ctx, spec);
    state.children.set(pid, spec);
    rt.emit({
      type: 'restart',
      at: rt.clock.now(),
      supervisor: ctx.self,
      childId: spec.id,
      oldPid,
      newPid: pid,
      reason,
    });
  } catch (error) {
    rt.emit({ type: 'restart_failed', at: rt.clock.now(), supervisor: ctx.self, childId: spec.id, error });
    state.pendingRestarts++;
    rt.deliverSystem(ctx.self, new RetryRestart(spec, reason, oldPid));
  }
}

async function handle(ctx: ProcessContext, state: DynState, req: DynRequest): Promise<Result<unknown>> {
  switch (req.op) {
    case 'count':
      return ok(state.children.size);
    case 'which':
      return ok(
        [...state.children].map(
          ([pid, s]) => ({ id: s.id, pid, type: s.type, restart: s.restart }) satisfies DynamicChildInfo,
        ),
      );
    case 'terminate': {
      const spec = state.children.get(req.pid as Pid);
      if (spec === undefined) return err(new ChildNotFoundError(state.spec.id, String(req.pid)));
      state.children.delete(req.pid as Pid);
      await shutdownChild(ctx.runtime, ctx.self, req.pid as Pid, spec.shutdownMs);
      return ok(undefined);
    }
    case 'start': {
      const spec = req.spec as ResolvedChildSpec;
      const max = state.spec.maxChildren;
      if (max !== null && state.children.size + state.pendingRestarts >= max)
        return err(new MaxChildrenError(state.spec.id, max));
      try {
        const pid = await startChild(ctx, spec);
        state.children.set(pid, spec);
        return ok(pid);
      } catch (error) {
        return err(new ChildStartError(state.spec.id, spec.id, error));
      }
    }
  }
}

/** Children are stopped concurrently at shutdown: they were started independently, so no order binds them. */
async function stopAll(ctx: ProcessContext, state: DynState): Promise<void> {
  const all = [...state.children];
  state.children.clear();
  await Promise.all(all.map(([pid, spec]) => shutdownChild(ctx.runtime, ctx.self, pid, spec.shutdownMs)));
}

const dynamicBehaviour: Behaviour<DynState, ResolvedSpec> = {
  init(spec, ctx) {
    ctx.trapExit(true);
    return {
      spec,
      children: new Map(),
      pendingRestarts: 0,
      intensity: new RestartIntensity(spec.maxRestarts, spec.periodMs),
    };
  },

  async handleCall(msg, _from, state, ctx): Promise<CallResult<DynState>> {
    if (!(msg instanceof DynRequest))
      return { reply: err(new BadMessageError(ctx.self, 'not a supervisor request')), state };
    return { reply: await handle(ctx, state, msg), state };
  },

  async handleInfo(msg, state, ctx) {
    if (msg instanceof RetryRestart) {
      state.pendingRestarts--;
      await restart(ctx, state, msg.spec, msg.reason, msg.oldPid);
      return state;
    }
    if (!isExit(msg)) return state;
    const from = msg.from;
    const spec = from === undefined ? undefined : state.children.get(from);
    if (from === undefined) ctx.stop(msg.reason);
    if (spec === undefined || from === undefined) return state;
    state.children.delete(from);
    if (spec.restart === 'temporary' || (spec.restart === 'transient' && isNormalExit(msg.reason)))
      return state;
    await restart(ctx, state, spec, msg.reason, from);
    return state;
  },

  async terminate(_reason, state, ctx) {
    await stopAll(ctx, state);
  },
};

/** How a dynamic supervisor is placed under another supervisor. */
export interface DynamicSupervisorChildOptions {
  /** Default: `permanent`. */
  restart?: RestartType;
  /** Default: `infinity`. */
  shutdownMs?: ChildShutdown;
  /** Registers it under this name when started. Default: none. */
  name?: string;
}

/** A supervisor of children started at run time (one_for_one), with an optional limit on their number. */
export class DynamicSupervisor {
  private constructor(
    readonly runtime: Runtime,
    readonly ref: ProcessRef,
  ) {}

  static async start(
    runtime: Runtime,
    spec: DynamicSupervisorSpec,
    options: SupervisorStartOptions = {},
  ): Promise<DynamicSupervisor> {
    const resolved = parseSpec(spec);
    const pid = await runtime.spawn(dynamicBehaviour, resolved, { ...options, trapExit: true });
    return new DynamicSupervisor(runtime, options.name ?? pid);
  }

  static childSpec(
    runtime: Runtime,
    spec: DynamicSupervisorSpec,
    options: DynamicSupervisorChildOptions = {},
  ): ChildSpec {
    const resolved = parseSpec(spec);
    return {
      id: resolved.id,
      type: 'supervisor',
      restart: options.restart ?? 'permanent',
      shutdownMs: options.shutdownMs ?? 'infinity',
      start: (o) =>
        runtime.spawn(dynamicBehaviour, resolved, {
          link: o.link,
          trapExit: true,
          ...(options.name === undefined ? {} : { name: options.name }),
        }),
      describe: () => describeSpec(resolved),
    };
  }

  static of(runtime: Runtime, ref: ProcessRef): DynamicSupervisor {
    return new DynamicSupervisor(runtime, ref);
  }

  get pid(): Pid | undefined {
    return this.runtime.lookup(this.ref)?.pid;
  }

  /** Starts a child under this supervisor; fails with `max_children` at the limit, `child_start_failed` if it does not start. */
  async startChild(spec: ChildSpec, options?: ProcessCallOptions): Promise<Pid> {
    return this.request<Pid>(new DynRequest('start', parseChildSpec(spec, 'startChild')), options);
  }

  /** Stops a child for good (it is not restarted). Fails with `child_not_found`. */
  async terminateChild(pid: Pid, options?: ProcessCallOptions): Promise<void> {
    await this.request<undefined>(new DynRequest('terminate', undefined, pid), options);
  }

  async whichChildren(options?: ProcessCallOptions): Promise<DynamicChildInfo[]> {
    return this.request<DynamicChildInfo[]>(new DynRequest('which'), options);
  }

  async countChildren(options?: ProcessCallOptions): Promise<number> {
    return this.request<number>(new DynRequest('count'), options);
  }

  /** Stops every child (concurrently, each with its shutdown time), then the supervisor. */
  async stop(reason: ExitReason = 'shutdown', timeoutMs = Infinity): Promise<ExitReason> {
    return this.runtime.stop(this.ref, reason, { timeoutMs });
  }

  private async request<T>(req: DynRequest, options?: ProcessCallOptions): Promise<T> {
    return unwrap(await this.runtime.call<Result<T>>(this.ref, req, options));
  }
}
