/** Coordination primitives kept in the store: locks, leader election, barriers, consensus and pools. */
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
export type {
  CampaignOptions,
  CampaignResult,
  LeaderChange,
  LeaderElection,
  LeaderInfo,
  LeaderLease,
  LeaderWatch,
} from './leaders.js';
export type {
  CheckOutOptions,
  CoordinationPools,
  PoolCreateOptions,
  PoolItemState,
  PoolLease,
  PoolStatus,
  PoolWaiter,
} from './pools.js';
export {
  listLeaders,
  listLocks,
  listPools,
  type CoordinationPage,
  type CoordinationPageOptions,
} from './listing.js';
export type { Arrival, BarrierStatus, CoordinationBarriers } from './barriers.js';
export {
  CapabilityRoundError,
  type CapabilityBarrier,
  type CapabilityCoordination,
  type CapabilityProposal,
  type CapabilityProposeOptions,
} from './capability.js';
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
  PoolExistsError,
  PoolInUseError,
  PoolItemLostError,
  PoolNotFoundError,
  PoolTimeoutError,
  ProposalClosedError,
  ProposalExistsError,
  ProposalNotFoundError,
  isCoordinationError,
} from './errors.js';
