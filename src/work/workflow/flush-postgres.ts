import { emptyResult, markShortfalls, type FlushSql } from './flush-sql.js';
import { inJsonList, RUNS, UNPARK_STATUS } from './runs.js';

/**
 * PostgreSQL: the whole flush is one call of `garrison_workflow_flush` (migration 0006), which takes each
 * kind of row as one JSON array. One statement commits atomically on its own, in one round trip, and the
 * function's statements are planned once per connection.
 */
export const postgresFlush: FlushSql = async (db, input, now) => {
  const result = emptyResult();
  const runs =
    input.runs.length === 0
      ? null
      : JSON.stringify(
          input.runs.map((r) => ({
            id: r.id,
            n: r.name,
            s: r.status,
            i: r.input,
            p: r.parentId,
            ps: r.parentStep,
            o: r.owner,
            l: r.leaseUntil,
            f: r.fence,
            tp: r.traceparent ?? null,
            ts: r.tracestate ?? null,
          })),
        );
  const steps =
    input.steps.length === 0
      ? null
      : JSON.stringify(
          input.steps.map((s) => ({
            r: s.runId,
            f: s.fence,
            i: s.idx,
            n: s.name,
            k: s.kind,
            s: s.status,
            o: s.output,
            e: s.error,
            a: s.attempts,
            d: s.dueAt,
            x: s.detail,
            st: s.startedAt ?? null,
          })),
        );
  // One row per run: its patch, plus the wake-up bump when a result is handed to it.
  const rows = new Map<string, Record<string, unknown>>();
  for (const p of input.patches) {
    rows.set(p.runId, {
      id: p.runId,
      f: p.fence,
      s: p.status ?? null,
      wk: p.wakeAt ?? null,
      o: p.output ?? null,
      e: p.error ?? null,
      fin: p.final === true ? 1 : 0,
      bump: 0,
    });
  }
  for (const h of input.handoffs) {
    const row = rows.get(h.runId);
    if (row !== undefined) row.bump = 1;
    else rows.set(h.runId, { id: h.runId, f: null, s: null, wk: null, o: null, e: null, fin: 0, bump: 1 });
  }
  const patches = rows.size === 0 ? null : JSON.stringify([...rows.values()]);
  const handoffs =
    input.handoffs.length === 0
      ? null
      : JSON.stringify(
          input.handoffs.map((h) => ({
            r: h.runId,
            i: h.idx,
            k: h.kind,
            s: h.status,
            o: h.output,
            e: h.error,
            fr: h.from?.runId ?? null,
            ff: h.from?.fence ?? null,
          })),
        );
  if (runs === null && steps === null && patches === null && handoffs === null) return result;
  const out = await db.query<{
    r_kind: string;
    r_id: string;
    r_control: 'pause' | 'cancel' | null;
    r_idx: number | null;
  }>(
    'SELECT r_kind, r_id, r_control, r_idx FROM garrison_workflow_flush($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb)',
    [now, runs, steps, patches, handoffs],
  );
  const written = new Map<string, number>();
  const patched = new Set<string>();
  for (const row of out) {
    switch (row.r_kind) {
      case 'r':
        result.inserted.add(row.r_id);
        break;
      case 's':
        written.set(row.r_id, (written.get(row.r_id) ?? 0) + 1);
        break;
      case 'p':
        patched.add(row.r_id);
        if (row.r_control !== null) result.controls.set(row.r_id, row.r_control);
        break;
      case 'h':
        result.handedOff.add(`${row.r_id}:${row.r_idx}`);
        break;
    }
  }
  if (result.handedOff.size > 0) {
    // A parked run that got a result becomes pending, for any node to take up. A flush with hand-offs
    // runs in a transaction (the engine's writer sees to it), so this commits with the result.
    const woken = [
      ...new Set(
        input.handoffs.filter((h) => result.handedOff.has(`${h.runId}:${h.idx}`)).map((h) => h.runId),
      ),
    ];
    await db.execute(
      `UPDATE ${RUNS} SET status = ${UNPARK_STATUS} WHERE id IN ${inJsonList('postgres', 1)}`,
      [JSON.stringify(woken)],
    );
  }
  markShortfalls(input.steps, written, result.fenced);
  for (const p of input.patches) if (!patched.has(p.runId)) result.fenced.add(p.runId);
  return result;
};
