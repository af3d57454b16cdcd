/**
 * Pause and resume from any node. A pause or resume is a transaction on the agent's row (and its
 * registry entry) by whichever host is asked; it wakes every host through the store (`store.notify`,
 * sent with the commit: LISTEN/NOTIFY on PostgreSQL). The host that runs the agent reads the row again
 * and follows it: its queue consumer stops or starts, its process refreshes its cached row. A periodic
 * An operator's stop (`operator.ts`) is followed the same way: the host stops the agent. A periodic
 * look at the rows (`pollIntervalMs`) covers a wake-up that cannot arrive; and an agent's process that
 * finds its row paused when it starts a task has its host look again at once.
 */
import type { Unsubscribe } from '../store/index.js';
import type { TimerHandle } from '../runtime/index.js';
import { RefreshRequest } from './agent-process.js';
import type { HostCore } from './host-core.js';
import type { Hosted } from './hosted.js';
import { syncRegistry } from './registry-sync.js';
import { pauseConsumer } from './run-action.js';
import { selectByNode, selectRow, setPaused, type AgentRow } from './rows.js';

/** Announces a change of an agent's pause; the payload is the agent's id. */
export const AGENT_CONTROL_CHANNEL = 'garrison_agent_control';

export interface ControlHost {
  readonly core: HostCore;
  /** The record of an agent this host runs. */
  hosted(id: string): Hosted | undefined;
  /** Starts the agent's queue consumer (a no-op while one runs). */
  startConsumer(hosted: Hosted): void;
  /** Stops an agent this host runs (an operator stopped it through the store). */
  stop(id: string): Promise<void>;
}

/**
 * Pauses (`pause` given) or resumes the agent in one transaction with its registry entry, wherever it
 * runs, and wakes its host. Answers the row and whether it changed.
 */
export async function changePause(
  host: ControlHost,
  id: string,
  pause: { readonly reason: string } | undefined,
): Promise<{ row: AgentRow; changed: boolean }> {
  const { core } = host;
  const local = host.hosted(id);
  const result = await core.store.transaction(async (tx) => {
    const result = await setPaused(tx, id, pause, core.clock.now());
    if (result.changed) {
      // The entry of the process that runs it, here or on another node (a no-op when none owns it).
      const processId = local?.processId ?? (await core.registry.within(tx).lookup(id))?.process;
      if (processId !== undefined && processId !== null)
        await syncRegistry(tx, core, id, processId, result.row);
      await core.store.notify(AGENT_CONTROL_CHANNEL, id);
    }
    return result;
  });
  if (local !== undefined) follow(host, local, result.row, false);
  return result;
}

/**
 * Brings a hosted agent in line with its committed row: paused or taking work. `announce`: the change
 * was made through another host, and this one says it followed (`agent.pause_followed`).
 */
function follow(host: ControlHost, hosted: Hosted, row: AgentRow, announce: boolean): void {
  const { core } = host;
  const paused = row.status === 'paused';
  const changed = hosted.paused !== paused;
  hosted.paused = paused;
  if (changed && announce)
    core.emit('agent.pause_followed', { agentId: hosted.id, paused, reason: row.pauseReason });
  if (changed && hosted.pid !== undefined)
    core.track(hosted.id, 'refresh agent row', core.runtime.cast(hosted.pid, new RefreshRequest()));
  if (paused) pauseConsumer(hosted, core);
  else if (hosted.phase !== 'stopping' && hosted.phase !== 'gone') host.startConsumer(hosted);
}

/** Watches the rows of the agents a host runs for pauses and resumes made elsewhere. */
export class ControlWatch {
  private unlisten: Unsubscribe | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly host: ControlHost,
    private readonly ids: () => readonly string[],
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.host.core.store.listen(AGENT_CONTROL_CHANNEL, (id) => this.recheck(id));
    this.arm();
  }

  /** Reads the agent's row again and follows it (one look at a time per agent, in order). */
  recheck(id: string): void {
    const { core } = this.host;
    if (this.stopped || this.host.hosted(id) === undefined) return;
    const next = (this.chains.get(id) ?? Promise.resolve()).then(async () => {
      const hosted = this.host.hosted(id);
      if (this.stopped || hosted === undefined) return;
      const row = await selectRow(core.store, id);
      if (row === undefined || this.stopped || this.host.hosted(id) !== hosted) return;
      // Stopped by an operator: this host ends the agent's process (its running task finishes first).
      if (row.lifecycle !== 'running') {
        if (hosted.phase !== 'stopping' && hosted.phase !== 'gone') await this.host.stop(id);
        return;
      }
      follow(this.host, hosted, row, true);
    });
    const tail = next.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    core.track(id, 'follow agent row', next);
  }

  private arm(): void {
    if (this.stopped) return;
    const { core } = this.host;
    this.timer = core.clock.setTimer(core.pollIntervalMs, () => {
      this.timer = undefined;
      core.track(
        undefined,
        'watch agent rows',
        this.sweep().finally(() => this.arm()),
      );
    });
  }

  /** One query for all: only the agents whose pause differs from the host's view are looked at again. */
  private async sweep(): Promise<void> {
    if (this.ids().length === 0) return;
    const { core } = this.host;
    for (const row of await selectByNode(core.store, core.nodeId, 'running')) {
      const hosted = this.host.hosted(row.id);
      if (hosted !== undefined && (row.status === 'paused') !== hosted.paused) this.recheck(row.id);
    }
    for (const row of await selectByNode(core.store, core.nodeId, 'stopped'))
      if (this.host.hosted(row.id) !== undefined) this.recheck(row.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.unlisten?.();
    await Promise.allSettled([...this.chains.values()]);
  }
}
