/**
 * The process of one running workflow run: it drives `engine.executeRun(id)` and ends normally when
 * the run ends (or stops here: paused, taken over by another node). It holds nothing of value — the
 * run's journal is in the store — so when it crashes, its supervisor starts it again and the run is
 * taken over again and resumed from its journal (the supervisor halts the old execution first).
 */
import type { Behaviour, ChildSpec, ProcessContext } from '../../runtime/index.js';
import { isRuntimeError } from '../../runtime/index.js';
import { GarrisonError } from '../../errors.js';
import { emitTo } from '../../telemetry/index.js';
import { isWorkflowError, WorkflowErrorCode, type WorkflowRun } from '../../work/index.js';
import type { SupervisorHost } from './host.js';

interface ServerArgs {
  readonly host: SupervisorHost;
  readonly runId: string;
}

interface ServerState {
  readonly host: SupervisorHost;
  readonly runId: string;
  /** When this server started (runtime clock): a run finished before it was not finished by it. */
  readonly startedAt: number;
}

const FINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** Reports a run this server executed to its end as `workflow.finished`. */
function reportFinished(state: ServerState, run: WorkflowRun | undefined): void {
  if (run === undefined || run.finishedAt === undefined || !FINAL.has(run.status)) return;
  // A server restarted for a run that had already ended (a crash right after the end) reports nothing.
  if (run.finishedAt < state.startedAt) return;
  emitTo(state.host.events, 'workflow.finished', {
    workflowId: run.id,
    name: run.name,
    outcome: run.status as 'completed' | 'failed' | 'cancelled',
    durationMs: Math.max(0, run.finishedAt - run.createdAt),
  });
}

/** `executeRun` returned: the run ended, or stopped executing here. */
class RunReturned {
  constructor(readonly run: WorkflowRun | undefined) {}
}

/** `executeRun` failed (the run could not be taken over or read). */
class RunFailed {
  constructor(readonly error: unknown) {}
}

/** Why a server crashed on purpose: its run's journal write failed, so the run is taken over again. */
export class WorkflowServerError extends GarrisonError {
  constructor(runId: string) {
    super('workflow_server_failed', `a journal write of workflow ${runId} failed; its server restarts`, {
      retryable: true,
      details: { workflowId: runId },
    });
  }
}

function deliver(ctx: ProcessContext, host: SupervisorHost, msg: unknown): void {
  ctx.runtime.send(ctx.self, msg).catch((error: unknown) => {
    // Gone already (killed): its exit was handled by its monitor.
    if (!isRuntimeError(error, 'noproc')) host.report(error);
  });
}

const serverBehaviour: Behaviour<ServerState, ServerArgs> = {
  init({ host, runId }, ctx) {
    host.storeErrors.delete(runId);
    // A monitor rather than `terminate`: it is told of every exit, `kill` included.
    ctx.runtime.monitor(ctx.self, (down) => host.serverExited(runId, down.reason), {
      label: `workflow server ${runId}`,
    });
    // Not awaited here: a run may take days, and the process must keep answering (stop, calls).
    host.engine.executeRun(runId).then(
      (run) => deliver(ctx, host, new RunReturned(run)),
      (error: unknown) => deliver(ctx, host, new RunFailed(error)),
    );
    return { host, runId, startedAt: ctx.runtime.clock.now() };
  },

  handleInfo(msg, state, ctx) {
    if (msg instanceof RunFailed) {
      if (isWorkflowError(msg.error, WorkflowErrorCode.stopped)) ctx.stop('normal');
      else throw msg.error;
    } else if (msg instanceof RunReturned) {
      if (state.host.storeErrors.delete(state.runId)) throw new WorkflowServerError(state.runId);
      reportFinished(state, msg.run);
      // Finished, paused, or executed by another node now: this server's work is over.
      ctx.stop('normal');
    }
    return state;
  },
};

/** The child spec of the server of one run: transient (restarted only after a crash). */
export function serverSpec(host: SupervisorHost, runId: string): ChildSpec {
  return {
    id: runId,
    restart: 'transient',
    shutdownMs: 5000,
    start: (o) => host.runtime.spawn(serverBehaviour, { host, runId }, o),
  };
}
