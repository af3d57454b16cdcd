/**
 * Named health checks and the system health summary behind `/readyz`, `garrison status` and the
 * dashboard. Every check runs under its own time limit on the injected clock; a check that hangs is
 * reported unhealthy with reason `timeout` and is not started again until its hung run settles, so a
 * stuck dependency cannot pile up calls.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/index.js';
import { describeError, emitTo } from '../../telemetry/index.js';
import { HealthCheckExistsError } from '../errors.js';
import type { GovernanceEventSink } from '../events.js';
import {
  HealthStatus,
  type CheckReport,
  type HealthCheckFn,
  type HealthCheckResult,
  type HealthCheckSpec,
  type SystemHealthSummary,
} from './types.js';

export interface HealthChecksOptions {
  /** Time source for time limits and report times. Default the system clock. */
  readonly clock?: Clock;
  /** A check's time limit when its spec sets none, ms. Default 5000. */
  readonly defaultTimeoutMs?: number;
  /** Where `health.changed` goes. Default none. */
  readonly events?: GovernanceEventSink;
}

export interface HealthChecks {
  /** Adds a check. Throws `health_check_exists` for a taken name, `invalid_input` for a bad spec. */
  register(spec: HealthCheckSpec): void;
  /** Removes a check; false when there was none of that name. */
  unregister(name: string): boolean;
  /** The registered checks' names, in registration order. */
  names(): string[];
  /** Runs every check at once and summarises them. Never throws: a failing check is a report. */
  run(): Promise<SystemHealthSummary>;
  /** Runs one check. Throws `invalid_input` when no check has that name. */
  runOne(name: string): Promise<CheckReport>;
  /** The summary of the last `run`, if any. */
  last(): SystemHealthSummary | undefined;
}

interface Entry {
  readonly name: string;
  readonly check: HealthCheckFn;
  readonly timeoutMs: number;
  readonly critical: boolean;
  /** The run in progress, shared by concurrent callers. */
  current: Promise<CheckReport> | undefined;
  /** Set while a timed-out run of the check has still not settled (clock ms it started). */
  hungSince: number | undefined;
}

const optionsSchema = z.strictObject({
  clock: z.unknown().optional(),
  defaultTimeoutMs: z.number().int().min(1).default(5000),
  events: z.unknown().optional(),
});

const specSchema = z.strictObject({
  name: z.string().min(1).max(200),
  check: z.custom<HealthCheckFn>((v) => typeof v === 'function', { message: 'check must be a function' }),
  timeoutMs: z.number().int().min(1).optional(),
  critical: z.boolean().default(true),
});

const STATUSES = new Set<string>(Object.values(HealthStatus));

const RANK = { healthy: 0, degraded: 1, unhealthy: 2 } as const;

export function createHealthChecks(options: HealthChecksOptions = {}): HealthChecks {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid health check options: ${describeIssues(parsed.error.issues)}`);
  const { defaultTimeoutMs } = parsed.data;
  const clock = options.clock ?? systemClock;
  const events = options.events;
  const entries = new Map<string, Entry>();
  let lastSummary: SystemHealthSummary | undefined;

  const report = (
    e: Entry,
    checkedAt: number,
    result: HealthCheckResult,
    durationMs = clock.now() - checkedAt,
  ): CheckReport => ({
    name: e.name,
    status: result.status,
    reason: result.status === 'healthy' ? undefined : (result.reason ?? result.status),
    critical: e.critical,
    checkedAt,
    durationMs,
    details: result.details,
  });

  const execute = (e: Entry): Promise<CheckReport> => {
    const checkedAt = clock.now();
    if (e.hungSince !== undefined) {
      return Promise.resolve(
        report(e, checkedAt, {
          status: 'unhealthy',
          reason: `timeout: the previous run is still going after ${checkedAt - e.hungSince} ms`,
        }),
      );
    }
    const controller = new AbortController();
    return new Promise<CheckReport>((resolve) => {
      let done = false;
      const settle = (r: CheckReport) => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(r);
      };
      const timer = clock.setTimer(e.timeoutMs, () => {
        if (done) return;
        done = true;
        e.hungSince = checkedAt;
        controller.abort(new Error(`health check ${e.name} timed out`));
        resolve(
          report(
            e,
            checkedAt,
            { status: 'unhealthy', reason: `timeout after ${e.timeoutMs} ms` },
            e.timeoutMs,
          ),
        );
      });
      const outcome = Promise.resolve().then(() => e.check(controller.signal));
      outcome.then(
        (result) => {
          e.hungSince = undefined;
          settle(report(e, checkedAt, normalise(result)));
        },
        (error: unknown) => {
          e.hungSince = undefined;
          settle(report(e, checkedAt, { status: 'unhealthy', reason: describeError(error) }));
        },
      );
    });
  };

  const runEntry = (e: Entry): Promise<CheckReport> => {
    if (e.current !== undefined) return e.current;
    const current = execute(e).finally(() => {
      if (e.current === current) e.current = undefined;
    });
    e.current = current;
    return current;
  };

  return {
    register(spec) {
      const p = specSchema.safeParse(spec);
      if (!p.success) throw new ValidationError(`invalid health check: ${describeIssues(p.error.issues)}`);
      if (entries.has(p.data.name)) throw new HealthCheckExistsError(p.data.name);
      entries.set(p.data.name, {
        name: p.data.name,
        check: p.data.check,
        timeoutMs: p.data.timeoutMs ?? defaultTimeoutMs,
        critical: p.data.critical,
        current: undefined,
        hungSince: undefined,
      });
    },
    unregister(name) {
      return entries.delete(name);
    },
    names() {
      return [...entries.keys()];
    },
    async runOne(name) {
      const e = entries.get(name);
      if (e === undefined) throw new ValidationError(`no health check named ${name}`);
      return runEntry(e);
    },
    async run() {
      const checkedAt = clock.now();
      const checks = await Promise.all([...entries.values()].map(runEntry));
      const summary = summarise(checkedAt, checks);
      const from = lastSummary?.status;
      lastSummary = summary;
      if (from !== summary.status)
        emitTo(events, 'health.changed', { from, to: summary.status, reasons: summary.reasons });
      return summary;
    },
    last() {
      return lastSummary;
    },
  };
}

/** A check's return value as a result: nothing is healthy; an unknown status is a broken check. */
function normalise(result: HealthCheckResult | void): HealthCheckResult {
  if (result === undefined) return { status: 'healthy' };
  if (typeof result !== 'object' || result === null || !STATUSES.has(String(result.status)))
    return { status: 'unhealthy', reason: `the check returned no valid status: ${JSON.stringify(result)}` };
  return result;
}

/** The system's status: the worst check, where a non-critical check counts as degraded at most. */
export function summarise(checkedAt: number, checks: readonly CheckReport[]): SystemHealthSummary {
  let rank = 0;
  const reasons: string[] = [];
  for (const c of checks) {
    if (c.status === 'healthy') continue;
    reasons.push(`${c.name}: ${c.reason ?? c.status}`);
    const r = c.critical ? RANK[c.status] : Math.min(RANK[c.status], RANK.degraded);
    rank = Math.max(rank, r);
  }
  const status = rank === 2 ? 'unhealthy' : rank === 1 ? 'degraded' : 'healthy';
  return { status, checkedAt, reasons, checks };
}
