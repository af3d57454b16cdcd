/**
 * The demo's record of external effects: every agent action writes one row keyed by the step's
 * idempotency key (`<workflow id>:<step index>`), inserted with ON CONFLICT DO NOTHING so a redelivered
 * step after a crash is visible as a repeat, never as a second effect. The summary checks exactly one
 * effect per journaled step.
 */
import type { Store, Tx } from '../../store/index.js';

const TABLE = 'garrison_demo_effects';

export async function ensureLedger(store: Store): Promise<void> {
  await store.execute(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, agent TEXT NOT NULL, action TEXT NOT NULL, ` +
      'attempts INTEGER NOT NULL DEFAULT 1, at BIGINT NOT NULL)',
  );
}

/** Records an effect; a repeat of the same key only counts an attempt. */
export async function recordEffect(
  tx: Tx,
  key: string,
  agent: string,
  action: string,
  now: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO ${TABLE} (key, agent, action, at) VALUES ($1, $2, $3, $4) ` +
      `ON CONFLICT (key) DO UPDATE SET attempts = ${TABLE}.attempts + 1`,
    [key, agent, action, now],
  );
}

export interface LedgerSummary {
  /** Distinct effects (one per step after dedupe). */
  readonly effects: number;
  /** Deliveries of a step that found its effect already recorded (at-least-once repeats, harmless). */
  readonly repeats: number;
  /** Effects per agent. */
  readonly perAgent: Record<string, number>;
}

export async function summarizeLedger(store: Store, keyLike = '%'): Promise<LedgerSummary> {
  const rows = await store.query<{ agent: string; n: number | string; extra: number | string | null }>(
    `SELECT agent, COUNT(*) AS n, SUM(attempts - 1) AS extra FROM ${TABLE} WHERE key LIKE $1 ` +
      'GROUP BY agent ORDER BY agent',
    [keyLike],
  );
  let effects = 0;
  let repeats = 0;
  const perAgent: Record<string, number> = {};
  for (const r of rows) {
    effects += Number(r.n);
    repeats += Number(r.extra ?? 0);
    perAgent[r.agent] = Number(r.n);
  }
  return { effects, repeats, perAgent };
}
