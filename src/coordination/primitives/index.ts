/** Coordination primitives kept in the store: locks, leader election, barriers and consensus. */
export {
  CoordinationPrimitives,
  createCoordinationPrimitives,
  type CoordinationPrimitivesOptions,
  type CoordinationPrimitivesStats,
} from './primitives.js';
export type {
  CoordinationLocks,
  LockAcquireOptions,
  LockLease,
  LockRenewOptions,
  LockStatus,
} from './locks.js';
export type { CampaignOptions, CampaignResult, LeaderElection, LeaderInfo, LeaderLease } from './leaders.js';
export type { Arrival, BarrierStatus, CoordinationBarriers } from './barriers.js';
export type { CoordinationConsensus, ProposeOptions } from './consensus.js';
export { ProposalStatus, type Proposal, type Vote } from './proposals.js';
export type { Lease, LeaseKind, LeaseState } from './leases.js';
export { releaseNodeLeases } from './leases.js';
export { COORDINATION_CHANNEL } from './wakeups.js';
export {
  BarrierExistsError,
  BarrierFullError,
  BarrierNotFoundError,
  BarrierTimeoutError,
  ConsensusTimeoutError,
  CoordinationClosedError,
  CoordinationError,
  CoordinationErrorCode,
  DuplicateVoteError,
  InvalidChoiceError,
  LeadershipLostError,
  LockLostError,
  LockTimeoutError,
  NoQuorumError,
  NotAVoterError,
  ProposalClosedError,
  ProposalExistsError,
  ProposalNotFoundError,
  isCoordinationError,
} from './errors.js';
