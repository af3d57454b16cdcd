export { PrimitiveError, PrimitiveErrorCode } from './errors.js';
export {
  createLocks,
  LeaderElection,
  Locks,
  type AcquireOptions,
  type LockInfo,
  type LockToken,
  type LocksOptions,
} from './locks.js';
export { Barriers, type BarrierState } from './barriers.js';
export { Consensus, type Proposal } from './consensus.js';
