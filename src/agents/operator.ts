/**
 * An operator's control of an agent — pause, resume, stop — from a process that does not host it (the
 * API of any node, the command line with only the store). Each request is one store transaction: the
 * agent's row, its registry entry (unhealthy while paused, removed once stopped, so the distributor
 * moves the steps waiting on its queue to healthy agents) and an audit event; its notification wakes the
 * host that runs the agent, which follows the row (see `control.ts`).
 *
 * Asking for the state the agent is already in changes nothing and is answered 200 with
 * `changed: false` (it is audited all the same): an operator's retry after a lost answer is safe.
 */
import type { AgentRegistry } from '../registry/index.js';
import type { Clock } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { insertAuditEvent } from './audit.js';
import { dropSchedules } from './schedules.js';
import { AGENT_CONTROL_CHANNEL } from './control.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { agentIdSchema } from './host-core.js';
import { syncEntry } from './registry-sync.js';
import { selectRow, setLifecycle, setPaused, type AgentLifecycle, type AgentRow } from './rows.js';
import { describeIssues, ValidationError } from '../errors.js';

/** What an operator may ask of an agent. */
export const AgentOperation = {
  /** Refuse new work; the running task finishes, queued tasks wait (or are moved to other agents). */
  pause: 'pause',
  /** Take work again; the error streak starts from zero. */
  resume: 'resume',
  /** End its process and its registry entry; it runs again only when started by hand. */
  stop: 'stop',
} as const;
export type AgentOperation = (typeof AgentOperation)[keyof typeof AgentOperation];

export interface OperatorContext {
  readonly store: Store;
  readonly registry: Pick<AgentRegistry, 'within'>;
  readonly clock: Clock;
}

export interface OperatorRequest {
  readonly operation: AgentOperation;
  readonly agentId: string;
  /** Who asks, for the audit trail: `api`, `api:<token name>`, `cli:<user>@<host>`. */
  readonly actor: string;
  /** Why (pause only; default `manual`): the agent's `pauseReason`. */
  readonly reason?: string;
}

export interface OperatorAnswer {
  readonly agentId: string;
  readonly operation: AgentOperation;
  /** False when the agent already was in the state asked for. */
  readonly changed: boolean;
  readonly lifecycle: AgentLifecycle;
  readonly status: AgentRow['status'];
  readonly pauseReason: string | null;
}

const reasonText = (reason: string | undefined): string => {
  const r = reason ?? 'manual';
  if (r.length === 0 || r.length > 500)
    throw new ValidationError('reason: a text of 1 to 500 characters', { field: 'reason' });
  return r;
};

/** Carries out an operator's request; `agent_not_found` (nothing written) for an unknown agent. */
export async function operateAgent(ctx: OperatorContext, request: OperatorRequest): Promise<OperatorAnswer> {
  const id = agentIdSchema.safeParse(request.agentId);
  if (!id.success) throw new ValidationError(`agent id: ${describeIssues(id.error.issues)}`);
  const agentId = id.data;
  const { operation } = request;
  const reason = operation === 'pause' ? reasonText(request.reason) : undefined;
  return ctx.store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const reg = ctx.registry.within(tx);
    let row: AgentRow;
    let changed: boolean;
    if (operation === 'stop') {
      const current = await selectRow(tx, agentId, true);
      if (current === undefined)
        throw new AgentError(AgentErrorCode.agentNotFound, `no agent has the id ${agentId}`, {
          details: { agentId },
        });
      changed = current.lifecycle !== 'stopped';
      if (changed) {
        await setLifecycle(tx, agentId, 'stopped', now);
        // Its entry goes now, not when its host hears of it: no new work is routed to it, and the steps
        // waiting on its queue are moved on by the distributor's next sweep.
        if ((await reg.lookup(agentId)) !== undefined) await reg.unregister(agentId, { reason: 'stopped' });
        // Its schedules die with it: no timer of a stopped agent fires anywhere.
        await dropSchedules(ctx.store, ctx.clock, agentId, tx);
      }
      row = (await selectRow(tx, agentId))!;
    } else {
      const result = await setPaused(tx, agentId, reason === undefined ? undefined : { reason }, now);
      row = result.row;
      changed = result.changed;
      if (changed) await syncEntry(reg, agentId, undefined, row);
    }
    if (changed) await ctx.store.notify(AGENT_CONTROL_CHANNEL, agentId);
    await insertAuditEvent(tx, {
      at: now,
      actor: request.actor,
      action: `agent.${operation}`,
      target: agentId,
      details: { changed, ...(reason === undefined ? {} : { reason }) },
    });
    return {
      agentId,
      operation,
      changed,
      lifecycle: row.lifecycle,
      status: row.status,
      pauseReason: row.status === 'paused' ? row.pauseReason : null,
    };
  });
}
