/**
 * Starting many runs as one unit: every item is checked first (nothing is written when one is bad), then
 * all the runs are inserted by one statement in one transaction, so a batch is in the store whole or not
 * at all — a process killed mid-batch leaves none of it. Used by `engine.startMany` and the client.
 */
import { ValidationError } from '../../errors.js';
import type { Tx } from '../../store/index.js';
import { inputText } from './define.js';
import { startOptionsSchema, invalid } from './engine-options.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { beginRunStart, tracingEnabled } from '../../telemetry/index.js';
import { RUNS } from './runs.js';
import type { StartOptions, WorkflowDefinition, WorkflowRef } from './types.js';

/** One run of a batch: its workflow (definition or name), its input and, optionally, its id. */
export interface StartItem<I = unknown, O = unknown> extends StartOptions {
  readonly workflow: WorkflowRef<I, O>;
  readonly input: I;
}

/** The most runs one batch may start. */
export const MAX_BATCH = 10_000;

/** A checked item: what goes into the store. */
export interface PreparedRun {
  readonly id: string;
  readonly name: string;
  /** JSON text. */
  readonly input: string;
  /** The definition, when the caller knows it (a run started by name from a client has none). */
  readonly def: WorkflowDefinition<unknown, unknown> | undefined;
  /** W3C trace context of the run's start span (absent: none). */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
}

/**
 * Gives each run of a batch a start span, child of the caller's active span, and its context to store;
 * the spans end once the batch is written (`end`). Tracing off: the runs as they are, nothing made.
 */
export function traceBatch(runs: PreparedRun[]): { runs: PreparedRun[]; end(error?: unknown): void } {
  if (!tracingEnabled()) return { runs, end: () => undefined };
  const starts = runs.map((r) => beginRunStart(r.name, r.id));
  return {
    runs: runs.map((r, i) => ({
      ...r,
      traceparent: starts[i]?.carrier?.traceparent ?? null,
      tracestate: starts[i]?.carrier?.tracestate ?? null,
    })),
    end: (error) => {
      for (const s of starts) s?.end(error);
    },
  };
}

/**
 * Checks every item of a batch and gives each its id. `resolve` turns a workflow reference into its name
 * and (when known) its definition, whose schema then checks the input. Throws `invalid_input` naming the
 * first bad item; nothing has been written then.
 */
export function prepareBatch(
  items: unknown,
  resolve: (ref: WorkflowRef<unknown, unknown>) => {
    name: string;
    def: WorkflowDefinition<unknown, unknown> | undefined;
  },
  newId: () => string,
): PreparedRun[] {
  if (!Array.isArray(items))
    throw new ValidationError('startMany takes an array of { workflow, input } items');
  if (items.length > MAX_BATCH) {
    throw new ValidationError(`startMany takes at most ${MAX_BATCH} items, got ${items.length}`);
  }
  const ids = new Set<string>();
  return items.map((raw: unknown, i) => {
    try {
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('not an object');
      const { workflow, input, ...rest } = raw as StartItem;
      if (typeof workflow !== 'string' && (typeof workflow !== 'object' || workflow === null)) {
        throw new ValidationError('workflow must be a workflow definition or its name');
      }
      const opts = startOptionsSchema.safeParse(rest);
      if (!opts.success) throw invalid('start options', opts.error.issues);
      const { name, def } = resolve(workflow);
      const text = def === undefined ? jsonText(name, input) : inputText(def, input);
      const id = opts.data.workflowId ?? newId();
      if (ids.has(id)) throw new ValidationError(`workflow id ${id} appears twice in the batch`);
      ids.add(id);
      return { id, name, input: text, def };
    } catch (error) {
      const details = { item: i, ...((error as WorkflowError).details ?? {}) };
      const message = `item ${i} of the batch: ${(error as Error).message}`;
      if (error instanceof ValidationError) throw new ValidationError(message, details, error);
      if (error instanceof WorkflowError)
        throw new WorkflowError(error.code, message, { details, cause: error });
      throw error;
    }
  });
}

/** The input of a run started by name (its schema is checked by the node that executes it). */
export function jsonText(name: string, input: unknown): string {
  try {
    return JSON.stringify(input) ?? 'null';
  } catch (error) {
    throw new ValidationError(
      `input for workflow '${name}' cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`,
      { workflow: name },
      error,
    );
  }
}

/** How the runs of a batch start: executing here at once (`running`, owned) or `pending` for any node. */
export interface BatchOwnership {
  readonly status: 'running' | 'pending';
  readonly owner: string | null;
  readonly leaseUntil: number | null;
  readonly fence: number;
}

/**
 * Inserts the runs in `tx` (one statement); ids that exist already are left as they are (idempotent
 * starts), unless they belong to another workflow: then `workflow_conflict` is thrown and, the
 * transaction rolling back, nothing of the batch is written. Returns the ids created.
 */
export async function insertBatch(
  tx: Tx,
  runs: readonly PreparedRun[],
  own: BatchOwnership,
  now: number,
): Promise<Set<string>> {
  if (runs.length === 0) return new Set();
  const rows = JSON.stringify(
    runs.map((r) => ({
      id: r.id,
      name: r.name,
      input: r.input,
      tp: r.traceparent ?? null,
      ts: r.tracestate ?? null,
    })),
  );
  const created = await tx.query<{ id: string }>(
    tx.dialect === 'postgres'
      ? `INSERT INTO ${RUNS} (id, name, status, input, owner, lease_until, fence, created_at, updated_at, ` +
          'traceparent, tracestate) SELECT r.id, r.name, $2, r.input::jsonb, $3, $4, $5, $6, $6, r.tp, r.ts ' +
          'FROM jsonb_to_recordset($1::jsonb) AS r(id text, name text, input text, tp text, ts text) ' +
          'ON CONFLICT (id) DO NOTHING RETURNING id'
      : `INSERT INTO ${RUNS} (id, name, status, input, owner, lease_until, fence, created_at, updated_at, ` +
          "traceparent, tracestate) SELECT json_extract(value, '$.id'), json_extract(value, '$.name'), $2, " +
          "json_extract(value, '$.input'), $3, $4, $5, $6, $6, json_extract(value, '$.tp'), " +
          "json_extract(value, '$.ts') FROM json_each($1) WHERE true " +
          'ON CONFLICT (id) DO NOTHING RETURNING id',
    [rows, own.status, own.owner, own.leaseUntil, own.fence, now],
  );
  const ids = new Set(created.map((r) => r.id));
  if (ids.size < runs.length) {
    const existing = runs.filter((r) => !ids.has(r.id));
    const names = await tx.query<{ id: string; name: string }>(
      `SELECT id, name FROM ${RUNS} WHERE id IN ` +
        (tx.dialect === 'postgres'
          ? '(SELECT jsonb_array_elements_text($1::jsonb))'
          : '(SELECT value FROM json_each($1))'),
      [JSON.stringify(existing.map((r) => r.id))],
    );
    const byId = new Map(names.map((r) => [r.id, r.name]));
    for (const run of existing) {
      const name = byId.get(run.id);
      if (name !== undefined && name !== run.name) {
        throw new WorkflowError(
          WorkflowErrorCode.conflict,
          `a run with id ${run.id} exists already and is of workflow '${name}', not '${run.name}'`,
          { details: { workflowId: run.id, existing: name, wanted: run.name } },
        );
      }
    }
  }
  return ids;
}
