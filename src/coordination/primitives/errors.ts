/**
 * The typed errors of the coordination primitives. Each has a stable `code`; `retryable` says whether the
 * same request can succeed later (a busy lock can; a stale lease token never will).
 */
import { GarrisonError } from '../../errors.js';

/** Error codes raised by locks, leader election, barriers, consensus and pools. */
export const CoordinationErrorCode = {
  /** `acquire` waited `waitMs` and the lock stayed held by someone else. Retryable. */
  lockTimeout: 'lock_timeout',
  /** The lease token is not the lock's current one: it was released, expired, or taken over. */
  lockLost: 'lock_lost',
  /** The leadership lease is not the group's current one: resigned, expired, or a newer term began. */
  leadershipLost: 'leadership_lost',
  /** No barrier has that name. */
  barrierNotFound: 'barrier_not_found',
  /** A barrier of that name exists with another number of parties. */
  barrierExists: 'barrier_exists',
  /** The barrier has opened with its parties; a new participant cannot arrive any more. */
  barrierFull: 'barrier_full',
  /** `wait` gave up after `timeoutMs` before every party arrived. Retryable. */
  barrierTimeout: 'barrier_timeout',
  /** No proposal has that id. */
  proposalNotFound: 'proposal_not_found',
  /** A proposal with that id exists for another topic. */
  proposalExists: 'proposal_exists',
  /** The proposal is decided, timed out or without quorum: it takes no more votes. */
  proposalClosed: 'proposal_closed',
  /** The voter has voted on this proposal already; the first vote stands. */
  duplicateVote: 'duplicate_vote',
  /** The proposal names its voters and this one is not among them. */
  notAVoter: 'not_a_voter',
  /** The choice is not one of the proposal's options. */
  invalidChoice: 'invalid_choice',
  /** The proposal's deadline passed before a quorum agreed. */
  consensusTimeout: 'consensus_timeout',
  /** The voters left cannot bring any option to the quorum. */
  noQuorum: 'no_quorum',
  /** No pool has that name. */
  poolNotFound: 'pool_not_found',
  /** A pool of that name exists with other items. */
  poolExists: 'pool_exists',
  /** `checkOut` waited `waitMs` and no item was returned to it. Retryable. */
  poolTimeout: 'pool_timeout',
  /** The item's lease token is not its current one: checked in, expired, or checked out by another. */
  poolItemLost: 'pool_item_lost',
  /** The pool cannot be removed while an item is checked out. Retryable. */
  poolInUse: 'pool_in_use',
  /** A capability-wide round found no healthy agent with the capability to take part. */
  noParticipants: 'no_participants',
  /** Only the participants fixed at a capability-wide round's start may take part in it. */
  notAParticipant: 'not_a_participant',
  /** No capability-wide round has that name (or id). */
  roundNotFound: 'round_not_found',
  /** The primitives were closed while a caller waited. */
  closed: 'coordination_closed',
} as const;
export type CoordinationErrorCode = (typeof CoordinationErrorCode)[keyof typeof CoordinationErrorCode];

/** The base of every coordination error. */
export class CoordinationError extends GarrisonError {
  declare readonly code: CoordinationErrorCode;

  constructor(
    code: CoordinationErrorCode,
    message: string,
    options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** True when `e` is a coordination error, optionally of the given code. */
export function isCoordinationError(e: unknown, code?: CoordinationErrorCode): e is CoordinationError {
  return e instanceof CoordinationError && (code === undefined || e.code === code);
}

/** The lock stayed held for the whole wait. */
export class LockTimeoutError extends CoordinationError {
  declare readonly code: 'lock_timeout';

  constructor(name: string, waitMs: number, holder: string | undefined) {
    super(
      CoordinationErrorCode.lockTimeout,
      `the lock "${name}" is held${holder === undefined ? '' : ` by ${holder}`}; waited ${waitMs} ms`,
      { retryable: true, details: { name, waitMs, holder } },
    );
  }
}

/** A renew or release of a lock presented a token that is no longer the lock's current lease. */
export class LockLostError extends CoordinationError {
  declare readonly code: 'lock_lost';

  constructor(name: string, fence: number) {
    super(
      CoordinationErrorCode.lockLost,
      `the lease of lock "${name}" (fence ${fence}) is lost: released, expired or taken over`,
      { details: { name, fence } },
    );
  }
}

/** A renew or resign presented a leadership that is no longer the group's current one. */
export class LeadershipLostError extends CoordinationError {
  declare readonly code: 'leadership_lost';

  constructor(group: string, term: number) {
    super(
      CoordinationErrorCode.leadershipLost,
      `the leadership of "${group}" (term ${term}) is lost: resigned, expired or a newer term began`,
      { details: { group, term } },
    );
  }
}

export class BarrierNotFoundError extends CoordinationError {
  declare readonly code: 'barrier_not_found';

  constructor(name: string) {
    super(CoordinationErrorCode.barrierNotFound, `no barrier is named "${name}"`, { details: { name } });
  }
}

export class BarrierExistsError extends CoordinationError {
  declare readonly code: 'barrier_exists';

  constructor(name: string, parties: number, requested: number) {
    super(
      CoordinationErrorCode.barrierExists,
      `the barrier "${name}" exists for ${parties} parties, not ${requested}`,
      { details: { name, parties, requested } },
    );
  }
}

export class BarrierFullError extends CoordinationError {
  declare readonly code: 'barrier_full';

  constructor(name: string, parties: number, participant: string) {
    super(
      CoordinationErrorCode.barrierFull,
      `the barrier "${name}" opened with its ${parties} parties; ${participant} cannot arrive any more`,
      { details: { name, parties, participant } },
    );
  }
}

export class BarrierTimeoutError extends CoordinationError {
  declare readonly code: 'barrier_timeout';

  constructor(name: string, timeoutMs: number, arrived: number, parties: number) {
    super(
      CoordinationErrorCode.barrierTimeout,
      `the barrier "${name}" did not open within ${timeoutMs} ms (${arrived} of ${parties} arrived)`,
      { retryable: true, details: { name, timeoutMs, arrived, parties } },
    );
  }
}

export class ProposalNotFoundError extends CoordinationError {
  declare readonly code: 'proposal_not_found';

  constructor(id: string) {
    super(CoordinationErrorCode.proposalNotFound, `no proposal has the id "${id}"`, { details: { id } });
  }
}

export class ProposalExistsError extends CoordinationError {
  declare readonly code: 'proposal_exists';

  constructor(id: string, topic: string) {
    super(CoordinationErrorCode.proposalExists, `the proposal "${id}" exists for the topic "${topic}"`, {
      details: { id, topic },
    });
  }
}

export class ProposalClosedError extends CoordinationError {
  declare readonly code: 'proposal_closed';

  constructor(id: string, status: string) {
    super(CoordinationErrorCode.proposalClosed, `the proposal "${id}" is closed (${status})`, {
      details: { id, status },
    });
  }
}

export class DuplicateVoteError extends CoordinationError {
  declare readonly code: 'duplicate_vote';

  constructor(id: string, voter: string, recorded: string) {
    super(
      CoordinationErrorCode.duplicateVote,
      `${voter} has voted on the proposal "${id}" already (for "${recorded}")`,
      { details: { id, voter, recorded } },
    );
  }
}

export class NotAVoterError extends CoordinationError {
  declare readonly code: 'not_a_voter';

  constructor(id: string, voter: string) {
    super(CoordinationErrorCode.notAVoter, `${voter} is not a voter of the proposal "${id}"`, {
      details: { id, voter },
    });
  }
}

export class InvalidChoiceError extends CoordinationError {
  declare readonly code: 'invalid_choice';

  constructor(id: string, choice: string, options: readonly string[]) {
    super(
      CoordinationErrorCode.invalidChoice,
      `"${choice}" is not an option of the proposal "${id}" (options: ${options.join(', ')})`,
      { details: { id, choice, options } },
    );
  }
}

export class ConsensusTimeoutError extends CoordinationError {
  declare readonly code: 'consensus_timeout';

  constructor(id: string, deadlineAt: number) {
    super(
      CoordinationErrorCode.consensusTimeout,
      `the proposal "${id}" reached no quorum before its deadline (${new Date(deadlineAt).toISOString()})`,
      { details: { id, deadlineAt } },
    );
  }
}

export class NoQuorumError extends CoordinationError {
  declare readonly code: 'no_quorum';

  constructor(id: string, quorum: number) {
    super(
      CoordinationErrorCode.noQuorum,
      `the voters left cannot bring any option of the proposal "${id}" to its quorum of ${quorum}`,
      { details: { id, quorum } },
    );
  }
}

export class CoordinationClosedError extends CoordinationError {
  declare readonly code: 'coordination_closed';

  constructor() {
    super(CoordinationErrorCode.closed, 'the coordination primitives are closed');
  }
}

export class PoolNotFoundError extends CoordinationError {
  declare readonly code: 'pool_not_found';

  constructor(name: string) {
    super(CoordinationErrorCode.poolNotFound, `no pool is named "${name}"`, { details: { name } });
  }
}

export class PoolExistsError extends CoordinationError {
  declare readonly code: 'pool_exists';

  constructor(name: string, items: readonly string[]) {
    super(
      CoordinationErrorCode.poolExists,
      `the pool "${name}" exists with other items (${items.length}: ${items.slice(0, 10).join(', ')}${items.length > 10 ? ', …' : ''})`,
      { details: { name, items: items.length } },
    );
  }
}

export class PoolTimeoutError extends CoordinationError {
  declare readonly code: 'pool_timeout';

  constructor(name: string, waitMs: number, requestId: string) {
    super(CoordinationErrorCode.poolTimeout, `no item of the pool "${name}" came free within ${waitMs} ms`, {
      retryable: true,
      details: { name, waitMs, requestId },
    });
  }
}

/** A renew or check-in presented a token (and fence) that is no longer the item's current lease. */
export class PoolItemLostError extends CoordinationError {
  declare readonly code: 'pool_item_lost';

  constructor(leaseName: string, fence: number) {
    const cut = leaseName.indexOf('/');
    const pool = leaseName.slice(0, cut);
    const item = leaseName.slice(cut + 1);
    super(
      CoordinationErrorCode.poolItemLost,
      `the lease of item "${item}" of pool "${pool}" (fence ${fence}) is stale: checked in, expired or checked out by another`,
      { details: { pool, item, fence } },
    );
  }
}

export class PoolInUseError extends CoordinationError {
  declare readonly code: 'pool_in_use';

  constructor(name: string, held: number) {
    super(
      CoordinationErrorCode.poolInUse,
      `the pool "${name}" has ${held} item${held === 1 ? '' : 's'} checked out; check them in first`,
      { retryable: true, details: { name, held } },
    );
  }
}
