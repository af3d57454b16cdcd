import { isExit, type Behaviour, type CallResult, type ProcessContext } from '../behaviour.js';
import { BadMessageError, ChildNotFoundError, ChildRunningError, ChildStartError } from '../errors.js';
import type { Pid } from '../pid.js';
import { isNormalExit, type ExitReason } from '../reasons.js';
import { startChild, shutdownChild } from './child-process.js';
import { describeResolved } from './describe.js';
import { RestartIntensity } from './intensity.js';
import { err, ok, type Result } from './result.js';
import type { ResolvedChildSpec, ResolvedSupervisorSpec, RestartType } from './spec.js';

/** A child as `whichChildren` reports it. */
export interface ChildInfo {
  readonly id: string;
  /** Its current pid; undefined while it is not running (exited transient child, terminated, restart pending). */
  readonly pid: Pid | undefined;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
}

interface Entry {
  readonly spec: ResolvedChildSpec;
  pid: Pid | undefined;
  /** The pid it had before it exited, for restart events. */
  lastPid: Pid | undefined;
}

interface SupState {
  readonly spec: ResolvedSupervisorSpec;
  children: Entry[];
  readonly intensity: RestartIntensity;
}

/** Requests a `Supervisor` handle sends. */
export class SupRequest {
  constructor(
    readonly op: 'which' | 'terminate' | 'restart' | 'describe',
    readonly id?: string,
  ) {}
}

/** A restart that failed is tried again through the mailbox, each try counting toward the intensity. */
class RetryRestart {
  constructor(
    readonly ids: readonly string[],
    readonly reason: ExitReason,
  ) {}
}

function info(e: Entry): ChildInfo {
  return { id: e.spec.id, pid: e.pid, type: e.spec.type, restart: e.spec.restart };
}

async function stopEntry(ctx: ProcessContext, e: Entry): Promise<void> {
  const pid = e.pid;
  if (pid === undefined) return;
  e.pid = undefined;
  e.lastPid = pid;
  await shutdownChild(ctx.runtime, ctx.self, pid, e.spec.shutdownMs);
}

/** Stops every running child, last started first. */
async function stopAll(ctx: ProcessContext, state: SupState): Promise<void> {
  for (let i = state.children.length - 1; i >= 0; i--) await stopEntry(ctx, state.children[i] as Entry);
}

/** Starts entries in order; on a failure queues a retry for it and the ones after it. */
async function startGroup(
  ctx: ProcessContext,
  state: SupState,
  group: Entry[],
  reason: ExitReason,
): Promise<void> {
  const rt = ctx.runtime;
  for (let i = 0; i < group.length; i++) {
    const e = group[i] as Entry;
    if (e.pid !== undefined || !state.children.includes(e)) continue;
    try {
      e.pid = await startChild(ctx, e.spec);
      rt.emit({
        type: 'restart',
        at: rt.clock.now(),
        supervisor: ctx.self,
        childId: e.spec.id,
        oldPid: e.lastPid,
        newPid: e.pid,
        reason,
      });
    } catch (error) {
      rt.emit({
        type: 'restart_failed',
        at: rt.clock.now(),
        supervisor: ctx.self,
        childId: e.spec.id,
        error,
      });
      rt.deliverSystem(
        ctx.self,
        new RetryRestart(
          group.slice(i).map((x) => x.spec.id),
          reason,
        ),
      );
      return;
    }
  }
}

/** Counts a restart; past the intensity, stops the supervisor (its parent decides what happens next). */
function allowRestart(ctx: ProcessContext, state: SupState): boolean {
  const rt = ctx.runtime;
  if (state.intensity.record(rt.clock.now())) return true;
  const { maxRestarts, periodMs } = state.intensity;
  rt.emit({ type: 'max_restart_intensity', at: rt.clock.now(), supervisor: ctx.self, maxRestarts, periodMs });
  ctx.stop('reached_max_restart_intensity');
  return false;
}

async function onChildExit(
  ctx: ProcessContext,
  state: SupState,
  entry: Entry,
  reason: ExitReason,
): Promise<void> {
  entry.lastPid = entry.pid;
  entry.pid = undefined;
  if (entry.spec.restart === 'temporary') {
    state.children = state.children.filter((e) => e !== entry);
    return;
  }
  if (entry.spec.restart === 'transient' && isNormalExit(reason)) return;
  if (!allowRestart(ctx, state)) return;

  const at = state.children.indexOf(entry);
  const group =
    state.spec.strategy === 'one_for_one'
      ? [entry]
      : state.spec.strategy === 'one_for_all'
        ? [...state.children]
        : state.children.slice(at);
  for (let i = group.length - 1; i >= 0; i--) {
    const e = group[i] as Entry;
    if (e !== entry) await stopEntry(ctx, e);
  }
  // Temporary children are never restarted, not even with their group.
  state.children = state.children.filter((e) => e === entry || e.spec.restart !== 'temporary');
  await startGroup(
    ctx,
    state,
    group.filter((e) => state.children.includes(e)),
    reason,
  );
}

async function handleRequest(
  ctx: ProcessContext,
  state: SupState,
  req: SupRequest,
): Promise<Result<unknown>> {
  if (req.op === 'which') return ok(state.children.map(info));
  if (req.op === 'describe')
    return ok(describeResolved({ ...state.spec, children: state.children.map((e) => e.spec) }));
  const entry = state.children.find((e) => e.spec.id === req.id);
  if (entry === undefined) return err(new ChildNotFoundError(state.spec.id, String(req.id)));
  if (req.op === 'terminate') {
    await stopEntry(ctx, entry);
    if (entry.spec.restart === 'temporary') state.children = state.children.filter((e) => e !== entry);
    return ok(undefined);
  }
  if (entry.pid !== undefined) return err(new ChildRunningError(state.spec.id, entry.spec.id));
  try {
    entry.pid = await startChild(ctx, entry.spec);
    return ok(entry.pid);
  } catch (error) {
    return err(new ChildStartError(state.spec.id, entry.spec.id, error));
  }
}

/** The supervisor process. It traps exits: a child's exit is a message it acts on, not its own death. */
export const supervisorBehaviour: Behaviour<SupState, ResolvedSupervisorSpec> = {
  async init(spec, ctx) {
    ctx.trapExit(true);
    const state: SupState = {
      spec,
      children: spec.children.map((c) => ({ spec: c, pid: undefined, lastPid: undefined })),
      intensity: new RestartIntensity(spec.maxRestarts, spec.periodMs),
    };
    for (const e of state.children) {
      try {
        e.pid = await startChild(ctx, e.spec);
      } catch (error) {
        await stopAll(ctx, state);
        throw new ChildStartError(spec.id, e.spec.id, error);
      }
    }
    return state;
  },

  async handleCall(msg, _from, state, ctx): Promise<CallResult<SupState>> {
    if (!(msg instanceof SupRequest))
      return { reply: err(new BadMessageError(ctx.self, 'not a supervisor request')), state };
    return { reply: await handleRequest(ctx, state, msg), state };
  },

  async handleInfo(msg, state, ctx) {
    if (msg instanceof RetryRestart) {
      const pending = msg.ids
        .map((id) => state.children.find((e) => e.spec.id === id))
        .filter((e): e is Entry => e !== undefined && e.pid === undefined);
      if (pending.length > 0 && allowRestart(ctx, state)) await startGroup(ctx, state, pending, msg.reason);
      return state;
    }
    if (!isExit(msg)) return state;
    const entry = msg.from === undefined ? undefined : state.children.find((e) => e.pid === msg.from);
    if (entry !== undefined) await onChildExit(ctx, state, entry, msg.reason);
    // An exit signal from outside any process is an order to stop. Others are from children already
    // replaced or stopped (their EXIT was queued before we unlinked them) and need nothing.
    else if (msg.from === undefined) ctx.stop(msg.reason);
    return state;
  },

  async terminate(_reason, state, ctx) {
    await stopAll(ctx, state);
  },
};
