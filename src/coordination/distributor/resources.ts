/**
 * Resource-aware routing. A dispatched step may require amounts of named resources
 * (`{ memory_mb: 512 }`); an agent offers what it reports in the registry (`resources`). What an agent
 * has given away is not a counter kept anywhere: it is the sum of the requirements of the live (queued or
 * running) dispatched steps on its queue, read from the store. A step that finishes, fails, is moved or
 * cancelled gives its share back in the same commit, and a crash can leak nothing. Every hand-off to an
 * agent checks the agent's free capacity again inside its own transaction, under a lock per agent queue
 * (PostgreSQL: a transaction advisory lock; SQLite: write transactions are serial), so two steps never
 * take the same capacity, whichever nodes route them.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseJson, type Executor, type Tx } from '../../store/index.js';
import { inJsonList } from './load.js';

/** Amounts of named resources a step requires (the names as agents report them). */
export type Requirements = Readonly<Record<string, number>>;

export const requirementsSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a resource name is [A-Za-z_][A-Za-z0-9_-]*'),
    z.number().positive().finite(),
  )
  .refine((r) => Object.keys(r).length > 0, 'name at least one resource')
  .refine((r) => Object.keys(r).length <= 32, 'at most 32 resources');

/** What the live dispatched steps on each of `queues` hold, per resource. */
export async function reservedOn(
  ex: Executor,
  queues: readonly string[],
): Promise<Map<string, Map<string, number>>> {
  const held = new Map<string, Map<string, number>>();
  if (queues.length === 0) return held;
  const requires =
    ex.dialect === 'postgres'
      ? "(payload -> 'dispatch' -> 'requires') IS NOT NULL"
      : "json_extract(payload, '$.dispatch.requires') IS NOT NULL";
  const rows = await ex.query<{ queue: string; payload: unknown }>(
    `SELECT queue, payload FROM garrison_tasks WHERE queue IN ${inJsonList(ex.dialect, 1)} ` +
      `AND state IN ('queued', 'running') AND ${requires}`,
    [JSON.stringify(queues)],
  );
  for (const row of rows) {
    const step = parseJson<{ dispatch?: { requires?: unknown } }>(row.payload);
    const wants = requirementsSchema.safeParse(step?.dispatch?.requires);
    if (!wants.success) continue;
    const sums = held.get(row.queue) ?? new Map<string, number>();
    for (const [name, amount] of Object.entries(wants.data)) sums.set(name, (sums.get(name) ?? 0) + amount);
    held.set(row.queue, sums);
  }
  return held;
}

/** True when what `offers` has left after `reserved` covers every requirement. */
export function fits(
  offers: Readonly<Record<string, number>>,
  reserved: ReadonlyMap<string, number> | undefined,
  requires: Requirements,
): boolean {
  for (const [name, amount] of Object.entries(requires)) {
    const offered = Object.hasOwn(offers, name) ? offers[name]! : 0;
    if (offered - (reserved?.get(name) ?? 0) < amount) return false;
  }
  return true;
}

/**
 * Inside a hand-off's transaction: takes the agent queue's capacity lock and answers whether the step
 * still fits. False means another hand-off took the capacity since the agent was chosen.
 */
export async function stillFits(
  tx: Tx,
  queue: string,
  offers: Readonly<Record<string, number>>,
  requires: Requirements,
): Promise<boolean> {
  if (tx.dialect === 'postgres')
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [capacityLockKey(queue)]);
  const reserved = await reservedOn(tx, [queue]);
  return fits(offers, reserved.get(queue), requires);
}

function capacityLockKey(queue: string): string {
  return createHash('sha256').update(`garrison.capacity:${queue}`).digest().readBigInt64BE(0).toString();
}

/** "512 memory_mb, 1 gpu": requirements as a message names them. */
export function describeRequirements(requires: Requirements): string {
  return Object.entries(requires)
    .map(([name, amount]) => `${amount} ${name}`)
    .join(', ');
}
