/** The node: one supervision tree built from configuration, membership, graceful stop. */
export { nodeConfigSchema, parseNodeConfig, type NodeConfig, type NodeConfigInput } from './config.js';
export { describeDrain, type DrainEvents, type DrainReport } from './drain.js';
export { countHeld, heldByNode, heldCounts, type HeldCounts, type NodeHoldings } from './held.js';
export { listNodes, NodeState, type MembershipTiming, type NodeInfo } from './membership.js';
export { startNode, type GarrisonNode, type StartNodeOptions } from './node.js';
export { processGone, thisProcess, type ProcessIdentity } from './process-identity.js';
export { DeathReason, recoverDeadNodes, type RecoveryOptions, type TakeoverReport } from './recovery.js';
export {
  queueWaits,
  unconsumedWork,
  type ConsumerSources,
  type QueueWait,
  type UnconsumedQueue,
  type UnconsumedWork,
  type WantedCapability,
} from './consumers.js';
export { servesOf, unservedWorkflow, type NodeServes, type UnservedWait } from './serves.js';
export { NODE_SUPERVISION, SERVICE_SHUTDOWN_MS } from './tree.js';
