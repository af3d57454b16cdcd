/**
 * An agent's schedules at run time. Each schedule is a durable timer of the agent (owner: the agent's
 * id), so everything about it lives in the store and any process with the store — the agent's host,
 * the API of any node, the command line — lists and changes it in one transaction, audited:
 *
 *   active   topic `garrison.agent-schedule`: fires on a node with an agent host (cron: on the cron
 *            leader), which queues the action on the agent's queue (`schedule-firing.ts`)
 *   paused   topic `garrison.agent-schedule.paused`: no node handles it, so it never fires
 *   removed  topic `garrison.agent-schedule.removed`: kept so a restart does not bring it back from the
 *            definition; not listed
 *
 * A schedule's timer is made from the definition when the agent's process starts and it has none;
 * one changed at run time keeps its change across restarts. Stopping the agent deletes them all.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import type { Clock } from '../runtime/index.js';
import { DurableTimers, type DurableTimerInfo } from '../scheduler/index.js';
import type { Store, Tx } from '../store/index.js';
import { scheduleNameSchema, type AgentDefinition } from './agent.js';
import type { QueueClient } from '../work/index.js';
import { insertAuditEvent } from './audit.js';
import { enqueueForAgent } from './enqueue.js';
import { AgentError, AgentErrorCode, agentNotFound } from './errors.js';
import { agentIdSchema } from './host-core.js';
import { selectRow } from './rows.js';

export const SCHEDULE_TOPIC = 'garrison.agent-schedule';
const PAUSED_TOPIC = `${SCHEDULE_TOPIC}.paused`;
const REMOVED_TOPIC = `${SCHEDULE_TOPIC}.removed`;

/** The durable timer id of an agent's schedule. */
export const scheduleTimerId = (agentId: string, name: string) => `${SCHEDULE_TOPIC}:${agentId}:${name}`;

/** What a schedule's timer carries: enough to queue its run without the definition. */
export interface SchedulePayload {
  readonly agentId: string;
  readonly name: string;
  readonly action: string;
  readonly input: unknown;
}

export const schedulePayloadSchema = z.object({
  agentId: z.string(),
  name: z.string(),
  action: z.string(),
  input: z.unknown(),
});

/** An agent's schedule as listed. */
export interface AgentScheduleInfo {
  readonly agentId: string;
  readonly name: string;
  readonly action: string;
  readonly input: unknown;
  /** The interval, ms; null for a cron schedule. */
  readonly everyMs: number | null;
  readonly cron: string | null;
  readonly state: 'active' | 'paused';
  /** When it runs next, UNIX epoch ms; null while paused. */
  readonly nextRunAt: number | null;
  /** Runs queued by the timer so far (run-now not counted). */
  readonly runs: number;
  /** Why the last firing failed, if it did (it is retried). */
  readonly lastError: string | null;
}

/** What an operator may do to a schedule. */
export type ScheduleOperation = 'run' | 'pause' | 'resume' | 'update' | 'remove';

/** A new timing for `update`: exactly one of the two. */
export interface ScheduleTiming {
  readonly everyMs?: number;
  readonly cron?: string;
}

export const scheduleTimingSchema = z
  .strictObject({
    everyMs: z.number().int().min(1).max(31_536_000_000).optional(),
    cron: z.string().min(1).max(200).optional(),
  })
  .refine((t) => (t.everyMs === undefined) !== (t.cron === undefined), {
    message: 'give everyMs (ms) or cron (a pattern), exactly one',
  });

export interface ScheduleContext {
  readonly store: Store;
  readonly clock: Clock;
  /** Who asks, for the audit trail: `api`, `api:<token name>`, `cli:<user>@<host>`, `host`. */
  readonly actor: string;
}

/** Durable timers of the store, to read and write rows only (never started: it fires nothing). */
function timersOf(store: Store, clock: Clock): DurableTimers {
  return new DurableTimers({ store, clock, nodeId: 'agent-schedules' });
}

function toInfo(t: DurableTimerInfo): AgentScheduleInfo | undefined {
  if (t.topic !== SCHEDULE_TOPIC && t.topic !== PAUSED_TOPIC) return undefined;
  const p = schedulePayloadSchema.safeParse(t.payload);
  if (!p.success) return undefined;
  const active = t.topic === SCHEDULE_TOPIC;
  return {
    agentId: p.data.agentId,
    name: p.data.name,
    action: p.data.action,
    input: p.data.input,
    everyMs: t.intervalMs,
    cron: t.cron,
    state: active ? 'active' : 'paused',
    nextRunAt: active ? t.dueAt : null,
    runs: t.firedCount,
    lastError: t.lastError,
  };
}

function checkIds(agentId: string, name?: string): void {
  const id = agentIdSchema.safeParse(agentId);
  if (!id.success) throw new ValidationError(`agent id: ${describeIssues(id.error.issues)}`);
  if (name === undefined) return;
  const n = scheduleNameSchema.safeParse(name);
  if (!n.success) throw new ValidationError(`schedule name: ${describeIssues(n.error.issues)}`);
}

/** The agent's schedules (not the removed ones), by name. `agent_not_found` for an unknown agent. */
export async function listSchedules(
  store: Store,
  clock: Clock,
  agentId: string,
): Promise<AgentScheduleInfo[]> {
  checkIds(agentId);
  if ((await selectRow(store, agentId)) === undefined) throw agentNotFound(agentId);
  const timers = await timersOf(store, clock).list({ owner: agentId });
  return timers
    .map(toInfo)
    .filter((s): s is AgentScheduleInfo => s !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Makes the timers of the definition's schedules the agent has none of (a first start, a start after a
 * stop, a schedule added to the definition). One changed, paused or removed at run time is kept.
 */
export async function materializeSchedules(
  timers: DurableTimers,
  tx: Tx,
  agentId: string,
  def: AgentDefinition,
): Promise<void> {
  for (const s of def.schedules) {
    const id = scheduleTimerId(agentId, s.name);
    if ((await timers.get(id, tx)) !== undefined) continue;
    const payload: SchedulePayload = { agentId, name: s.name, action: s.action, input: s.input };
    await timers.schedule(
      {
        id,
        topic: SCHEDULE_TOPIC,
        owner: agentId,
        payload,
        ...(s.cron === undefined ? { intervalMs: s.everyMs! } : { cron: s.cron }),
      },
      tx,
    );
  }
}

/** The answer of a change: the schedule as it is now (absent once removed) and whether it changed. */
export interface ScheduleAnswer {
  readonly agentId: string;
  readonly name: string;
  readonly operation: ScheduleOperation;
  readonly changed: boolean;
  readonly schedule: AgentScheduleInfo | null;
  /** The task queued by `run`. */
  readonly taskId?: number;
}

export interface ScheduleRequest {
  readonly operation: Exclude<ScheduleOperation, 'run'>;
  readonly agentId: string;
  readonly name: string;
  /** `update` only. */
  readonly timing?: ScheduleTiming;
}

function scheduleNotFound(agentId: string, name: string, known: readonly string[]): AgentError {
  return new AgentError(
    AgentErrorCode.scheduleNotFound,
    `agent ${agentId} has no schedule named ${name}` +
      (known.length === 0 ? ' (it has none)' : ` (its schedules: ${known.join(', ')})`),
    { details: { agentId, name, schedules: known } },
  );
}

/** The schedule's row in `tx`, or `schedule_not_found` naming the ones the agent has. */
async function current(
  timers: DurableTimers,
  tx: Tx,
  agentId: string,
  name: string,
): Promise<{ timer: DurableTimerInfo; info: AgentScheduleInfo }> {
  if ((await selectRow(tx, agentId)) === undefined) throw agentNotFound(agentId);
  const timer = await timers.get(scheduleTimerId(agentId, name), tx);
  const info = timer === undefined ? undefined : toInfo(timer);
  if (timer === undefined || info === undefined) {
    const rows = await tx.query<{ id: string; topic: string }>(
      'SELECT id, topic FROM garrison_timers WHERE owner = $1 AND topic IN ($2, $3) ORDER BY id',
      [agentId, SCHEDULE_TOPIC, PAUSED_TOPIC],
    );
    const prefix = scheduleTimerId(agentId, '');
    throw scheduleNotFound(
      agentId,
      name,
      rows.map((r) => r.id.slice(prefix.length)),
    );
  }
  return { timer, info };
}

/** Writes the schedule's timer again under `topic` with `timing` (its due time counts from now). */
function rewrite(
  timers: DurableTimers,
  tx: Tx,
  timer: DurableTimerInfo,
  topic: string,
  timing: ScheduleTiming,
): Promise<DurableTimerInfo> {
  return timers.schedule(
    {
      id: timer.id,
      topic,
      owner: timer.owner ?? undefined,
      payload: timer.payload,
      ...(timing.cron === undefined ? { intervalMs: timing.everyMs! } : { cron: timing.cron }),
    },
    tx,
  );
}

const timingOf = (t: DurableTimerInfo): ScheduleTiming =>
  t.cron === null ? { everyMs: t.intervalMs ?? 1 } : { cron: t.cron };

/**
 * Pauses, resumes, changes the timing of, or removes one schedule, in one transaction with its audit
 * event (`agent.schedule.<operation>`). Asking for the state it is in already changes nothing
 * (`changed: false`, audited all the same). `schedule_not_found`, `agent_not_found` or `invalid_input`
 * (a bad cron pattern, both or neither timing) change nothing.
 */
export async function changeSchedule(
  ctx: ScheduleContext,
  request: ScheduleRequest,
): Promise<ScheduleAnswer> {
  const { agentId, name, operation } = request;
  checkIds(agentId, name);
  let timing: ScheduleTiming | undefined;
  if (operation === 'update') {
    const parsed = scheduleTimingSchema.safeParse(request.timing ?? {});
    if (!parsed.success) throw new ValidationError(`schedule timing: ${describeIssues(parsed.error.issues)}`);
    timing = parsed.data;
  }
  const timers = timersOf(ctx.store, ctx.clock);
  return ctx.store.transaction(async (tx) => {
    const { timer, info } = await current(timers, tx, agentId, name);
    let changed = true;
    let after: DurableTimerInfo | undefined;
    if (operation === 'pause') {
      changed = info.state === 'active';
      if (changed) after = await rewrite(timers, tx, timer, PAUSED_TOPIC, timingOf(timer));
    } else if (operation === 'resume') {
      changed = info.state === 'paused';
      if (changed) after = await rewrite(timers, tx, timer, SCHEDULE_TOPIC, timingOf(timer));
    } else if (operation === 'update') {
      // A paused schedule stays paused with its new timing; a bad cron pattern throws here: rolled back.
      after = await rewrite(timers, tx, timer, timer.topic, timing!);
    } else {
      await rewrite(timers, tx, timer, REMOVED_TOPIC, timingOf(timer));
    }
    await insertAuditEvent(tx, {
      at: ctx.clock.now(),
      actor: ctx.actor,
      action: `agent.schedule.${operation}`,
      target: agentId,
      details: { schedule: name, changed, ...(timing === undefined ? {} : { timing }) },
    });
    const schedule = operation === 'remove' ? null : after === undefined ? info : (toInfo(after) ?? null);
    return { agentId, name, operation, changed, schedule };
  });
}

/** Deletes every schedule of the agent (it was stopped): they die with it. */
export async function dropSchedules(store: Store, clock: Clock, agentId: string, tx: Tx): Promise<number> {
  return timersOf(store, clock).cancelOwner(agentId, tx);
}

/**
 * Queues one run of the schedule now (its timer keeps its times), in one transaction with its audit
 * event (`agent.schedule.run`). Runs while the schedule is paused too; `agent_paused` while the agent
 * is, `schedule_not_found`, `agent_not_found` or `queue_full` queue nothing.
 */
export async function runScheduleNow(
  ctx: ScheduleContext & { readonly queues: QueueClient; readonly maxAttempts?: number },
  agentId: string,
  name: string,
): Promise<ScheduleAnswer> {
  checkIds(agentId, name);
  const timers = timersOf(ctx.store, ctx.clock);
  return ctx.store.transaction(async (tx) => {
    const { info } = await current(timers, tx, agentId, name);
    const now = ctx.clock.now();
    const task = await enqueueForAgent(
      tx,
      { queues: ctx.queues, maxAttempts: ctx.maxAttempts ?? 5 },
      agentId,
      { action: info.action, input: info.input, schedule: name },
      { maxAttempts: 1 },
    );
    await insertAuditEvent(tx, {
      at: now,
      actor: ctx.actor,
      action: 'agent.schedule.run',
      target: agentId,
      details: { schedule: name, changed: true, taskId: task.id },
    });
    return { agentId, name, operation: 'run', changed: true, schedule: info, taskId: task.id };
  });
}
