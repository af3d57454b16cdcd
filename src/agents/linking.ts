/**
 * Agents linked to their processes. The host monitors every process it starts for an agent:
 *
 * - the process died and its supervisor restarts it (a permanent child, or a transient one that
 *   failed, while the supervisor lives): the registry entry is kept, marked `degraded` — the new process
 *   takes it over and makes it `healthy` again, with the restart counted;
 * - the process died and is not restarted (a temporary child, a transient one that ended normally, the
 *   supervisor gave up or is shutting down): the entry is removed in a committed transaction and
 *   `agent.exited` is emitted; the agent's row records `exited` (or stays `running` when the whole host
 *   shuts down, so that the node resumes it).
 *
 * Changes for one agent run in order (`Hosted.serial`), and each is conditional on the entry still
 * belonging to the process it is about, so a late "degraded" can never undo a newer process's entry.
 */
import {
  formatReason,
  isNormalExit,
  type DownMessage,
  type ExitReason,
  type Pid,
  type RestartType,
} from '../runtime/index.js';
import type { HostCore } from './host-core.js';
import type { Hosted } from './hosted.js';
import { markRestarting, removeEntry } from './registry-sync.js';
import { setLifecycle } from './rows.js';

/** Whether a supervisor restarts a child of this restart type that exited with `reason`. */
export function willRestart(restart: RestartType, reason: ExitReason): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'transient') return !isNormalExit(reason);
  return false;
}

export interface LinkContext {
  readonly core: HostCore;
  /** True while the host's supervisor runs (false once it exits or is being stopped). */
  supervisorAlive(): boolean;
  /** True while the host shuts down: agents end but stay `running` in the store, to be resumed. */
  closing(): boolean;
  /** Forgets an agent that ended. */
  forget(hosted: Hosted): void;
}

/** Watches a process of `hosted`; called once its `init` has finished. */
export function watchProcess(link: LinkContext, hosted: Hosted, pid: Pid, processId: string): void {
  link.core.runtime.monitor(pid, (down) => onDown(link, hosted, pid, processId, down), {
    label: `agent ${hosted.id}`,
  });
}

function onDown(link: LinkContext, hosted: Hosted, pid: Pid, processId: string, down: DownMessage): void {
  hosted.detach(pid);
  if (hosted.phase === 'stopping' || hosted.phase === 'gone') return; // `stop` records the rest
  const reason = formatReason(down.reason);
  if (!link.closing() && link.supervisorAlive() && willRestart(hosted.restart, down.reason)) {
    hosted.phase = 'restarting';
    const { core } = link;
    link.core.track(
      hosted.id,
      'mark restarting',
      hosted.serial(async () => {
        const marked = await core.store.transaction((tx) =>
          markRestarting(tx, core, hosted.id, processId, reason),
        );
        if (marked) core.emit('agent.restarting', { agentId: hosted.id, processId, reason });
      }),
    );
    return;
  }
  endAgent(link, hosted, link.closing() ? 'host_shutdown' : reason);
}

/**
 * The agent ended for good: no process will run it here any more. Its consumer stops, its waiters
 * fail, its registry entry goes (in a committed transaction, then `agent.exited`).
 */
export function endAgent(link: LinkContext, hosted: Hosted, reason: string): void {
  if (hosted.phase === 'gone') return;
  const { core } = link;
  const processId = hosted.processId;
  const closing = link.closing();
  hosted.end(reason);
  link.forget(hosted);
  const consumer = hosted.consumer;
  hosted.consumer = undefined;
  if (consumer !== undefined) core.track(hosted.id, 'stop queue consumer', consumer.stop());
  core.track(
    hosted.id,
    'remove registry entry',
    hosted.serial(async () => {
      const unregistered = await core.store.transaction(async (tx) => {
        const removed = await removeEntry(tx, core, hosted.id, processId, 'process_exited');
        if (!closing) await setLifecycle(tx, hosted.id, 'exited', core.clock.now());
        return removed;
      });
      core.emit('agent.exited', { agentId: hosted.id, processId: processId ?? null, reason, unregistered });
    }),
  );
}
