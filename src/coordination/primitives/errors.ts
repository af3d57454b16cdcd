/** Typed errors of the coordination primitives. */
import { GarrisonError } from '../../errors.js';

export const PrimitiveErrorCode = {
  /** A lock could not be had within `waitMs`. */
  lockTimeout: 'lock_timeout',
  /** The token's lease ended and someone else may hold the lock (its fence is stale). */
  lockLost: 'lock_lost',
  barrierNotFound: 'barrier_not_found',
  barrierTimeout: 'barrier_timeout',
  /** A barrier exists with another number of parties. */
  barrierConflict: 'barrier_conflict',
  proposalNotFound: 'proposal_not_found',
  /** The proposal is decided or timed out. */
  proposalClosed: 'proposal_closed',
  alreadyVoted: 'already_voted',
} as const;
export type PrimitiveErrorCode = (typeof PrimitiveErrorCode)[keyof typeof PrimitiveErrorCode];

export class PrimitiveError extends GarrisonError {
  constructor(
    code: PrimitiveErrorCode,
    message: string,
    details?: Record<string, unknown>,
    retryable = false,
  ) {
    super(code, message, { details, retryable });
  }
}
