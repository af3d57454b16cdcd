/**
 * The registry's writes, each on a store transaction. An agent's row and its index rows (capabilities,
 * resources) always change in the same transaction, so the indexes can never disagree with the agent.
 */
import { toJson, type SqlValue, type Tx } from '../store/index.js';
import { AgentExistsError } from './errors.js';
import { AGENT_COLUMNS, AGENTS, CAPABILITIES, RESOURCES, rowToAgent, type AgentRow } from './rows.js';
import type { Agent } from './types.js';
import type { AgentFields } from './validation.js';

/** Inserts an agent; throws `AgentExistsError` when the id is taken (also by a concurrent transaction). */
export async function insertAgent(tx: Tx, fields: AgentFields, now: number): Promise<Agent> {
  // ON CONFLICT DO NOTHING rather than catching a unique violation: on PostgreSQL a failed statement
  // would poison the whole transaction, and a concurrent insert of the same id waits for the other
  // transaction and then reports 0 rows here.
  const inserted = await tx.execute(
    `INSERT INTO ${AGENTS} (id, type, health, node, process, capabilities, resources, metadata, version, ` +
      'registered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) ON CONFLICT (id) DO NOTHING',
    [
      fields.id,
      fields.type,
      fields.health,
      fields.node,
      fields.process,
      toJson(fields.capabilities),
      toJson(fields.resources),
      toJson(fields.metadata),
      now,
    ],
  );
  if (inserted.rowCount === 0) throw new AgentExistsError(fields.id);
  await insertCapabilities(tx, fields.id, fields.capabilities);
  await insertResources(tx, fields.id, fields.resources);
  return { ...fields, version: 1, registeredAt: now, updatedAt: now };
}

async function insertCapabilities(tx: Tx, id: string, capabilities: readonly string[]): Promise<void> {
  if (capabilities.length === 0) return;
  const params: SqlValue[] = [id, ...capabilities];
  const rows = capabilities.map((_, i) => `($1, $${i + 2})`).join(', ');
  await tx.execute(`INSERT INTO ${CAPABILITIES} (agent_id, capability) VALUES ${rows}`, params);
}

async function insertResources(
  tx: Tx,
  id: string,
  resources: Readonly<Record<string, number>>,
): Promise<void> {
  const entries = Object.entries(resources);
  if (entries.length === 0) return;
  const params: SqlValue[] = [id];
  const rows = entries.map(([name, value]) => {
    params.push(name, value);
    const v = `$${params.length}`;
    return `($1, $${params.length - 1}, ${tx.dialect === 'postgres' ? `${v}::double precision` : v})`;
  });
  await tx.execute(`INSERT INTO ${RESOURCES} (agent_id, name, value) VALUES ${rows.join(', ')}`, params);
}

/**
 * Reads an agent inside a transaction. On PostgreSQL the row is locked (`FOR UPDATE`) until the
 * transaction ends, so a read-modify-write by two transactions cannot lose an update; SQLite transactions
 * already hold the database's single write lock (`BEGIN IMMEDIATE`).
 */
export async function selectForUpdate(tx: Tx, id: string): Promise<Agent | undefined> {
  const lock = tx.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await tx.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE a.id = $1${lock}`, [
    id,
  ]);
  const row = rows[0];
  return row === undefined ? undefined : rowToAgent(row);
}

/** Writes `next` over `current` (whose row the caller has locked) and keeps the indexes in step. */
export async function updateAgent(tx: Tx, current: Agent, next: AgentFields, now: number): Promise<Agent> {
  const version = current.version + 1;
  await tx.execute(
    `UPDATE ${AGENTS} SET type = $2, health = $3, node = $4, process = $5, capabilities = $6, resources = $7, ` +
      'metadata = $8, version = $9, updated_at = $10 WHERE id = $1',
    [
      current.id,
      next.type,
      next.health,
      next.node,
      next.process,
      toJson(next.capabilities),
      toJson(next.resources),
      toJson(next.metadata),
      version,
      now,
    ],
  );
  if (toJson(next.capabilities) !== toJson(current.capabilities)) {
    await tx.execute(`DELETE FROM ${CAPABILITIES} WHERE agent_id = $1`, [current.id]);
    await insertCapabilities(tx, current.id, next.capabilities);
  }
  if (toJson(next.resources) !== toJson(current.resources)) {
    await tx.execute(`DELETE FROM ${RESOURCES} WHERE agent_id = $1`, [current.id]);
    await insertResources(tx, current.id, next.resources);
  }
  return { ...next, version, registeredAt: current.registeredAt, updatedAt: now };
}

/** Deletes an agent and its index rows. The caller has read (and locked) it. */
export async function deleteAgent(tx: Tx, id: string): Promise<void> {
  // Index rows first and explicitly, rather than trusting ON DELETE CASCADE alone: the cascade depends on
  // a connection setting on SQLite.
  await tx.execute(`DELETE FROM ${CAPABILITIES} WHERE agent_id = $1`, [id]);
  await tx.execute(`DELETE FROM ${RESOURCES} WHERE agent_id = $1`, [id]);
  await tx.execute(`DELETE FROM ${AGENTS} WHERE id = $1`, [id]);
}

/** The agents owned by a process, locked on PostgreSQL. */
export async function selectByProcessForUpdate(tx: Tx, processId: string): Promise<Agent[]> {
  const lock = tx.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await tx.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM ${AGENTS} a WHERE a.process = $1 ORDER BY a.id${lock}`,
    [processId],
  );
  return rows.map(rowToAgent);
}
