/**
 * The audit trail of operators' actions on agents (`garrison_audit_events`, migration 11): each request
 * — pause, resume, stop, from the API or the command line — is a row written in the same transaction as
 * the change it asks for, so the trail never says something happened that did not, nor misses one that
 * did.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { pageLimitSchema, parseJson, toJson, type Executor } from '../store/index.js';

export interface AuditEvent {
  readonly id: number;
  /** When it was asked, UNIX epoch ms. */
  readonly at: number;
  /** Who asked: `api`, `api:<token name>`, `cli:<user>@<host>`. */
  readonly actor: string;
  /** What was asked: `agent.pause`, `agent.resume`, `agent.stop`. */
  readonly action: string;
  /** What it was asked of: an agent's id. */
  readonly target: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

interface RawEvent {
  id: number | string;
  at: number | string;
  actor: string;
  action: string;
  target: string;
  details: unknown;
}

export async function insertAuditEvent(ex: Executor, e: NewAuditEvent): Promise<void> {
  const details = ex.dialect === 'postgres' ? '$5::jsonb' : '$5';
  await ex.execute(
    `INSERT INTO garrison_audit_events (at, actor, action, target, details) VALUES ($1, $2, $3, $4, ${details})`,
    [e.at, e.actor, e.action, e.target, toJson(e.details)],
  );
}

const listSchema = z.strictObject({
  target: z.string().min(1).max(200).optional(),
  limit: pageLimitSchema.optional(),
});

/** The newest audit events first, of one target or of all; at most `limit` (default 100). */
export async function listAuditEvents(
  ex: Executor,
  filter: { readonly target?: string; readonly limit?: number } = {},
): Promise<AuditEvent[]> {
  const parsed = listSchema.safeParse(filter);
  if (!parsed.success)
    throw new ValidationError(`invalid audit filter: ${describeIssues(parsed.error.issues)}`);
  const f = parsed.data;
  const limit = f.limit ?? 100;
  const rows = await ex.query<RawEvent>(
    f.target === undefined
      ? 'SELECT id, at, actor, action, target, details FROM garrison_audit_events ORDER BY id DESC LIMIT $1'
      : 'SELECT id, at, actor, action, target, details FROM garrison_audit_events WHERE target = $2 ' +
          'ORDER BY id DESC LIMIT $1',
    f.target === undefined ? [limit] : [limit, f.target],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: parseJson<Record<string, unknown>>(r.details),
  }));
}
