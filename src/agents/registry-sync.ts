/**
 * The agent's registry entry, kept in step with its process and its row inside the same transactions:
 * registered (or taken over) when a process starts, `unhealthy` while paused (the registry's word for
 * "never give it work"), `degraded` while its supervisor restarts it, removed when it ends.
 */
import type { Health, JsonObject, RegistryTx } from '../registry/index.js';
import type { Tx } from '../store/index.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { HostCore } from './host-core.js';
import type { Hosted } from './hosted.js';
import type { AgentRow } from './rows.js';

/** How a row shows in the registry. */
export function healthOf(row: AgentRow): Health {
  return row.status === 'paused' ? 'unhealthy' : 'healthy';
}

function metadataOf(base: JsonObject, row: AgentRow): JsonObject {
  return {
    ...base,
    status: row.status,
    restarts: row.restarts,
    incarnation: row.incarnation,
    queueLimit: row.queueLimit,
  };
}

/**
 * Registers the agent for a new process, or takes its entry over when the entry is this node's (left
 * by a process that died, on a restart or after the node was killed). An entry on another node is
 * refused: the agent would run twice.
 */
export async function registerProcess(
  tx: Tx,
  core: HostCore,
  hosted: Hosted,
  processId: string,
  row: AgentRow,
): Promise<void> {
  const reg = core.registry.within(tx);
  const entry = await reg.lookup(hosted.id);
  const fields = {
    capabilities: hosted.def.capabilities,
    resources: hosted.def.resources,
    type: hosted.def.type,
    node: core.nodeId,
    process: processId,
    health: healthOf(row),
  };
  if (entry === undefined) {
    await reg.register({ id: hosted.id, metadata: metadataOf({}, row), ...fields });
    return;
  }
  if (entry.node !== core.nodeId) {
    throw new AgentError(
      AgentErrorCode.agentRunningElsewhere,
      `agent ${hosted.id} is registered on node ${entry.node}; it cannot also run on ${core.nodeId}`,
      { details: { agentId: hosted.id, node: entry.node } },
    );
  }
  await reg.update(hosted.id, { ...fields, metadata: metadataOf(entry.metadata, row) });
}

/** The registry entry of `agentId` when `processId` owns it; undefined otherwise. */
async function owned(reg: RegistryTx, agentId: string, processId: string) {
  const entry = await reg.lookup(agentId);
  return entry !== undefined && entry.process === processId ? entry : undefined;
}

/** Brings health and status to the entry, if `processId` still owns it. */
export async function syncRegistry(
  tx: Tx,
  core: HostCore,
  agentId: string,
  processId: string,
  row: AgentRow,
): Promise<void> {
  await syncEntry(core.registry.within(tx), agentId, processId, row);
}

/**
 * `syncRegistry` with the registry alone (an operator's request, made without a host): the entry of
 * `processId`, or of whichever process owns it when `processId` is undefined.
 */
export async function syncEntry(
  reg: RegistryTx,
  agentId: string,
  processId: string | undefined,
  row: AgentRow,
): Promise<void> {
  const entry = processId === undefined ? await reg.lookup(agentId) : await owned(reg, agentId, processId);
  if (entry === undefined) return;
  await reg.update(agentId, { health: healthOf(row), metadata: metadataOf(entry.metadata, row) });
}

/**
 * The process died and will be restarted: the entry stays, `degraded`, until the new process takes it
 * over. A no-op when a newer process already did.
 */
export async function markRestarting(
  tx: Tx,
  core: HostCore,
  agentId: string,
  processId: string,
  reason: string,
): Promise<boolean> {
  const reg = core.registry.within(tx);
  const entry = await owned(reg, agentId, processId);
  if (entry === undefined) return false;
  await reg.update(agentId, {
    health: 'degraded',
    metadata: { ...entry.metadata, status: 'restarting', lastExit: reason },
  });
  return true;
}

/** The process died for good (or was stopped): its entry goes. False when it had none left. */
export async function removeEntry(
  tx: Tx,
  core: HostCore,
  agentId: string,
  processId: string | undefined,
  reason: string,
): Promise<boolean> {
  if (processId === undefined) return false;
  const removed = await core.registry.within(tx).unregisterProcess(processId, { reason });
  return removed.some((a) => a.id === agentId);
}
