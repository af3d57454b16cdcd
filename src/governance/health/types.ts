/** Health checks and the system health summary: their shapes. */
import type { HealthState } from '../events.js';

/** A component's or the system's health. */
export const HealthStatus = {
  /** Everything works. */
  healthy: 'healthy',
  /** It works, with a problem worth attention (a non-critical check failing, a resource near its limit). */
  degraded: 'degraded',
  /** It does not work (a critical check failing or timing out); not ready for traffic. */
  unhealthy: 'unhealthy',
} as const satisfies Record<HealthState, HealthState>;
export type HealthStatus = HealthState;

/** What a check returns. Returning nothing means healthy; throwing means unhealthy with the error as reason. */
export interface HealthCheckResult {
  readonly status: HealthStatus;
  /** Why it is not healthy, one line. */
  readonly reason?: string;
  /** Figures behind the verdict (counts, versions…), shown by status pages. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A check. Its signal is aborted when the check times out; a check should stop its work then. */
export type HealthCheckFn = (
  signal: AbortSignal,
) => HealthCheckResult | void | Promise<HealthCheckResult | void>;

export interface HealthCheckSpec {
  /** Unique among the registered checks, e.g. `store`, `queue:emails`. */
  readonly name: string;
  readonly check: HealthCheckFn;
  /** How long the check may run before it is reported unhealthy with reason `timeout`, ms. Default: the registry's (5000). */
  readonly timeoutMs?: number;
  /**
   * Whether a failure makes the system unhealthy (true) or only degraded (false). Default true.
   */
  readonly critical?: boolean;
}

/** One check's outcome in a summary. */
export interface CheckReport {
  readonly name: string;
  readonly status: HealthStatus;
  /** Why it is not healthy (`timeout…` when it did not answer in time). */
  readonly reason: string | undefined;
  readonly critical: boolean;
  /** When the check started, UNIX epoch ms. */
  readonly checkedAt: number;
  /** How long it took, ms (the timeout when it timed out). */
  readonly durationMs: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;
}

/** The system's health: the worst of its checks (a failing non-critical check counts as degraded). */
export interface SystemHealthSummary {
  readonly status: HealthStatus;
  /** UNIX epoch ms. */
  readonly checkedAt: number;
  /** One line per check that is not healthy: `name: reason`. Empty when healthy. */
  readonly reasons: readonly string[];
  readonly checks: readonly CheckReport[];
}
