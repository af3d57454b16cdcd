/**
 * The agent's process: a runtime process under the host's dynamic supervisor. `init` loads the agent
 * from the store (a restart carries on from the last checkpoint), takes over its registry entry and
 * makes its schedules' timers; every action runs here, one at a time, and is checkpointed before it is
 * answered. A failing action is an outcome, not a crash; a failing store crashes the process, and its
 * supervisor restarts it from what was committed.
 */
import type { Behaviour, CallResult, Pid, ProcessContext } from '../runtime/index.js';
import type { ClaimedTask } from '../work/index.js';
import { BadMessageError } from '../runtime/index.js';
import { agentPaused, unknownAction } from './errors.js';
import type { HostCore } from './host-core.js';
import type { Hosted } from './hosted.js';
import { registerProcess } from './registry-sync.js';
import { beginIncarnation, markProcessing, selectRow } from './rows.js';
import { runAction, type AgentProcState, type RunOutcome } from './run-action.js';
import { runTask, type TaskReply } from './run-task.js';
import { materializeSchedules } from './schedules.js';

export interface AgentArgs {
  readonly core: HostCore;
  readonly hosted: Hosted;
  /** Called at the end of a successful `init`: the host records the process and monitors it. */
  readonly attached: (pid: Pid, processId: string) => void;
}

/** Runs an action for a direct call; the input was validated by the host. */
export class RunActionRequest {
  constructor(
    readonly action: string,
    readonly input: unknown,
  ) {}
}

/** Runs a task from the agent's queue (sent by its queue consumer). */
export class RunTaskRequest {
  constructor(
    readonly task: ClaimedTask,
    readonly signal: AbortSignal,
  ) {}
}

/** The row changed outside the process (a pause, a resume): read it again. */
export class RefreshRequest {}

/** Answers the process's cached row. */
export class SnapshotRequest {}

const never = new AbortController().signal;

async function init(args: AgentArgs, ctx: ProcessContext): Promise<AgentProcState> {
  const { core, hosted } = args;
  const restarted = hosted.incarnations > 0;
  hosted.incarnations++;
  const processId = core.processIdOf(ctx.self);
  // The previous process's "restarting" mark commits first, so the registry shows degraded, then healthy.
  await hosted.settled();
  const { row, state } = await core.store.transaction(async (tx) => {
    const row = await beginIncarnation(tx, hosted.id, restarted, core.clock.now());
    const state = hosted.def.parseState(row.state, `the stored state of agent ${hosted.id}`);
    await registerProcess(tx, core, hosted, processId, row);
    // Its schedules are durable timers: made from the definition once, kept as changed at run time.
    if (core.scheduler !== undefined)
      await materializeSchedules(core.scheduler.durable, tx, hosted.id, hosted.def);
    return { row, state };
  });
  args.attached(ctx.self, processId);
  core.emit('agent.started', {
    agentId: hosted.id,
    type: hosted.def.type,
    node: core.nodeId,
    processId,
    restarted,
    restarts: row.restarts,
  });
  return { core, hosted, processId, row, state };
}

async function direct(p: AgentProcState, req: RunActionRequest): Promise<RunOutcome> {
  const action = p.hosted.def.actions.get(req.action);
  if (action === undefined)
    return { ok: false, error: unknownAction(p.hosted.id, req.action, [...p.hosted.def.actions.keys()]) };
  if (p.row.status === 'paused' && !action.readOnly)
    return { ok: false, error: agentPaused(p.hosted.id, p.row.pauseReason) };
  return runAction(p, action, req.input, undefined, never);
}

export const agentBehaviour: Behaviour<AgentProcState, AgentArgs> = {
  init,

  async handleCall(msg, _from, p, ctx): Promise<CallResult<AgentProcState>> {
    if (msg instanceof RunActionRequest) return { reply: await direct(p, msg), state: p };
    if (msg instanceof RunTaskRequest) {
      const reply: TaskReply = await runTask(p, msg.task, msg.signal, (taskId) =>
        p.core.store.write(async (tx) => {
          p.row = await markProcessing(tx, p.hosted.id, p.row.incarnation, taskId, p.core.clock.now());
        }),
      );
      // Paused from another node, and the host has not heard yet: it looks now, and takes no more work.
      if (p.row.status === 'paused' && !p.hosted.paused) p.core.recheck(p.hosted.id);
      return { reply, state: p };
    }
    if (msg instanceof SnapshotRequest) return { reply: p.row, state: p };
    throw new BadMessageError(ctx.self, 'not an agent request');
  },

  async handleCast(msg, p) {
    if (msg instanceof RefreshRequest) {
      p.row = (await selectRow(p.core.store, p.hosted.id)) ?? p.row;
      p.hosted.paused = p.row.status === 'paused';
    }
    return p;
  },
};
