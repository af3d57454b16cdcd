/** The states of a circuit breaker and the reasons it moves between them. */

export const BreakerState = {
  /** Calls run; consecutive failures are counted. */
  closed: 'closed',
  /** Calls are refused at once until the reset timeout has passed. */
  open: 'open',
  /** A limited number of probe calls run; enough successes close the breaker, one failure reopens it. */
  halfOpen: 'half_open',
} as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export const BreakerTransitionReason = {
  /** closed → open: `failureThreshold` consecutive failures. */
  failureThreshold: 'failure_threshold',
  /** open → half_open: `resetTimeoutMs` passed since it opened. */
  resetTimeout: 'reset_timeout',
  /** half_open → closed: `successThreshold` probes succeeded. */
  successThreshold: 'success_threshold',
  /** half_open → open: a probe failed. */
  probeFailed: 'probe_failed',
  /** any → closed: `reset()` was called. */
  manualReset: 'manual_reset',
} as const;
export type BreakerTransitionReason = (typeof BreakerTransitionReason)[keyof typeof BreakerTransitionReason];
