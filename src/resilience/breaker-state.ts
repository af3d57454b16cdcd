/** The states of a circuit breaker and the reasons it moves between them. */
import type { BreakerStateName, BreakerTransitionReasonName } from '../telemetry/index.js';

export const BreakerState = {
  /** Calls run; consecutive failures are counted. */
  closed: 'closed',
  /** Calls are refused at once until the reset timeout has passed. */
  open: 'open',
  /** A limited number of probe calls run; enough successes close the breaker, one failure reopens it. */
  halfOpen: 'half_open',
} as const satisfies Record<string, BreakerStateName>;
export type BreakerState = BreakerStateName;

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
} as const satisfies Record<string, BreakerTransitionReasonName>;
export type BreakerTransitionReason = BreakerTransitionReasonName;
