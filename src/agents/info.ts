/** What the host reports of an agent: its row as committed, its queue, and whether it runs here. */
import type { QueueStats } from '../work/index.js';
import { agentQueueName } from './queue-name.js';
import type { AgentLifecycle, AgentRow, AgentStatus } from './rows.js';

/** Durable counters and performance figures of an agent. */
export interface AgentCounters {
  /** Actions that succeeded (direct calls, tasks and scheduled runs; read-only calls are not counted). */
  readonly processed: number;
  /** Actions that failed. */
  readonly failed: number;
  /** Failures since the last success (or resume). */
  readonly consecutiveErrors: number;
  /** Time spent in actions, ms. */
  readonly totalDurationMs: number;
  /** `totalDurationMs` over processed + failed, ms; 0 before the first action. */
  readonly averageDurationMs: number;
}

export interface AgentInfo {
  readonly id: string;
  readonly type: string;
  /** The node that runs it (or ran it last). */
  readonly node: string;
  readonly lifecycle: AgentLifecycle;
  readonly status: AgentStatus;
  /** Why it is paused: `manual`, `consecutive_errors`, or the reason given to `pause`. */
  readonly pauseReason: string | null;
  /** True when a process of it is alive on this host now. */
  readonly running: boolean;
  /** Restarts by a supervisor so far. */
  readonly restarts: number;
  /** Checkpoints written so far. */
  readonly version: number;
  readonly state: unknown;
  readonly counters: AgentCounters;
  /** The task it is running, if any. */
  readonly currentTask: number | null;
  readonly queue: {
    readonly name: string;
    /** Most tasks waiting; `queue_full` past it. */
    readonly limit: number;
    /** Tasks waiting (including failed attempts waiting for their retry). */
    readonly queued: number;
    /** Tasks leased (the one it runs). */
    readonly running: number;
    /** Tasks that exhausted their attempts (crashes, lost leases). */
    readonly dead: number;
  };
  /** UNIX epoch ms. */
  readonly createdAt: number;
  /** UNIX epoch ms. */
  readonly updatedAt: number;
}

export function toInfo(row: AgentRow, stats: QueueStats, running: boolean): AgentInfo {
  const runs = row.processed + row.failed;
  return {
    id: row.id,
    type: row.type,
    node: row.node,
    lifecycle: row.lifecycle,
    status: row.status,
    pauseReason: row.pauseReason,
    running,
    restarts: row.restarts,
    version: row.version,
    state: row.state,
    counters: {
      processed: row.processed,
      failed: row.failed,
      consecutiveErrors: row.consecutiveErrors,
      totalDurationMs: row.totalDurationMs,
      averageDurationMs: runs === 0 ? 0 : row.totalDurationMs / runs,
    },
    currentTask: row.currentTask,
    queue: {
      name: agentQueueName(row.id),
      limit: row.queueLimit,
      queued: stats.queued,
      running: stats.running,
      dead: stats.dead,
    },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
