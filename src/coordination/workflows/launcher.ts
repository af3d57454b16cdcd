/**
 * The launcher: the process that gives runs their `WorkflowServer`, within the limit on running
 * workflows. It looks in the store — never in a queue of its own — when it starts, when woken (a run was
 * created pending here or on another node, a server ended, a run was resumed), and every
 * `scanIntervalMs` (leases of dead nodes expire without a wake-up). The runs it does not start stay
 * `pending` (or owned by a dead node) in the store, oldest first in line; a crash of the launcher loses
 * nothing, and its restart rebuilds its view from the servers' supervisor.
 */
import { isRuntimeError, type Behaviour, type Pid, type TimerHandle } from '../../runtime/index.js';
import type { Unsubscribe } from '../../store/index.js';
import { claimableChildren } from './claimable-children.js';
import type { SupervisorHost } from './host.js';
import { serverSpec } from './workflow-server.js';

/** Where a node that cannot start a new run tells the others about it. */
export const PENDING_CHANNEL = 'garrison_workflows_pending';

/** Look for runs to start now. */
export const POKE = Symbol('poke');
/** The periodic look (re-arms itself). */
const SCAN = Symbol('scan');

/** Children taken over at once, at most. */
const CHILD_BATCH = 500;

interface LauncherState {
  readonly host: SupervisorHost;
  /** Resources the process's exit monitor releases (it also sees `kill`, which skips `terminate`). */
  readonly held: { timer: TimerHandle | undefined; unlisten: Unsubscribe | undefined; exited: boolean };
}

async function startServer(host: SupervisorHost, runId: string): Promise<void> {
  // Counted before the call: the server may end before the call returns (its exit removes it again).
  host.running.add(runId);
  try {
    await host.servers.startChild(serverSpec(host, runId));
  } catch (error) {
    host.running.delete(runId);
    host.report(error);
  }
}

/** Starts servers for claimable runs: children of runs here first, then the oldest, while slots are free. */
async function fill(host: SupervisorHost): Promise<void> {
  if (host.stopping) return;
  const { engine, running, options } = host;
  if (running.size > 0) {
    const now = host.runtime.clock.now();
    const children = await claimableChildren(host.store, host.nodeId, now, [...running], CHILD_BATCH);
    for (const id of children) if (!running.has(id) && !host.stopping) await startServer(host, id);
  }
  let free = options.maxRunning - running.size;
  if (free > 0) {
    // Some of the oldest may have a server already (taking them over is in progress): ask for enough.
    const ids = await engine.claimable(Math.min(10_000, free + running.size));
    for (const id of ids) {
      if (free <= 0 || host.stopping) break;
      if (running.has(id)) continue;
      await startServer(host, id);
      free--;
    }
  }
  host.full = running.size >= options.maxRunning;
}

function arm(state: LauncherState, self: Pid): void {
  const { host, held } = state;
  if (held.exited) return;
  held.timer = host.runtime.clock.setTimer(host.options.scanIntervalMs, () => {
    host.runtime.send(self, SCAN).catch((error: unknown) => {
      // `noproc`: the launcher exited meanwhile; its successor looks at the store when it starts.
      if (!isRuntimeError(error, 'noproc')) host.report(error);
    });
  });
}

export const launcherBehaviour: Behaviour<LauncherState, SupervisorHost> = {
  async init(host, ctx) {
    const held: LauncherState['held'] = { timer: undefined, unlisten: undefined, exited: false };
    ctx.runtime.monitor(
      ctx.self,
      () => {
        held.exited = true;
        held.timer?.cancel();
        held.unlisten?.().catch((error: unknown) => host.report(error));
      },
      { label: 'workflow launcher' },
    );
    host.running = new Set((await host.servers.whichChildren()).map((c) => c.id));
    held.unlisten = await host.store.listen(PENDING_CHANNEL, () => host.poke());
    const state: LauncherState = { host, held };
    arm(state, ctx.self);
    // A wake-up lost with a predecessor must not block the next ones; this first look replaces it.
    host.pokeQueued = true;
    await ctx.runtime.send(ctx.self, POKE);
    return state;
  },

  async handleInfo(msg, state, ctx) {
    const { host } = state;
    if (msg === POKE) host.pokeQueued = false;
    else if (msg === SCAN) arm(state, ctx.self);
    else return state;
    // A failed look (the store is unreachable) is reported and tried again at the next wake-up or scan.
    await fill(host).catch((error: unknown) => host.report(error));
    return state;
  },
};
