/**
 * What the HTTP API needs from a node, and nothing more. A node builds one `ApiContext` from its parts
 * (see `nodeApiContext`); tests build one from the same real parts on a real store. Each member is the
 * narrowest slice of the public type it comes from, so the API cannot reach past what it documents.
 */
import type { CoordinationSnapshot } from '../coordination/index.js';
import type { ResourceUsage } from '../governance/index.js';
import type { NodeInfo } from '../node/index.js';
import type { AgentRegistry } from '../registry/index.js';
import type { BreakerRegistry } from '../resilience/index.js';
import type { Clock } from '../runtime/index.js';
import type { DurableTimers } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import type { EventBus, GarrisonEvents, Metrics } from '../telemetry/index.js';
import type { QueueClient, WorkflowEngine } from '../work/index.js';

/** A health status, worst last. */
export type HealthLevel = 'healthy' | 'degraded' | 'unhealthy';

/**
 * The least a health summary must say (governance's `SystemHealthSummary` is one): `/readyz` fails
 * while it is `unhealthy`; the dashboard shows its checks.
 */
export interface HealthSummaryLike {
  readonly status: HealthLevel;
  /** One line per check that is not healthy. */
  readonly reasons?: readonly string[];
  readonly checks?: ReadonlyArray<{
    readonly name: string;
    readonly status: HealthLevel;
    readonly reason?: string | undefined;
  }>;
}

export interface ApiContext {
  /** `/readyz`: reachable and every migration applied; the metrics summary is read from it. */
  readonly store: Store;
  /** Times of SSE heartbeats and of the metrics summary. */
  readonly clock: Clock;
  /** `lookup` and `findCapableHealthy` tell whether an agent's queue or a parked step has a consumer. */
  readonly registry: Pick<
    AgentRegistry,
    'list' | 'query' | 'get' | 'listPage' | 'queryPage' | 'lookup' | 'findCapableHealthy'
  >;
  readonly workflows: Pick<
    WorkflowEngine,
    'start' | 'list' | 'get' | 'steps' | 'cancel' | 'pause' | 'resume' | 'signal'
  >;
  readonly queues: Pick<
    QueueClient,
    'enqueue' | 'listTasks' | 'getTask' | 'cancel' | 'listDead' | 'retryDead' | 'purgeDead'
  >;
  readonly timers: Pick<DurableTimers, 'list' | 'page'>;
  readonly breakers: Pick<BreakerRegistry, 'list' | 'reset'>;
  /** `/metrics` renders it; the summary adds up its counters. */
  readonly metrics: Pick<Metrics, 'render' | 'contentType' | 'registry'>;
  /** `/v1/events` streams it. */
  readonly events: Pick<EventBus<GarrisonEvents>, 'on'>;
  /** The system health summary: `/v1/health`, and `/readyz` fails while it is unhealthy. Optional. */
  readonly health?: () => Promise<HealthSummaryLike>;
  /**
   * Nodes of the cluster with their heartbeats: `/v1/nodes`; what they serve tells why work waits
   * (`no_live_node`, `no_live_consumer`). Optional: without it nothing is flagged.
   */
  readonly nodes?: () => Promise<readonly NodeInfo[]>;
  /** This node's resource usage against its limits: `/v1/resources`. Optional. */
  readonly resources?: () => readonly ResourceUsage[];
  /**
   * Coordination figures for the metrics summary (a node passes its collector's cached snapshot).
   * Default: read from the store on each request.
   */
  readonly coordination?: () => Promise<CoordinationSnapshot>;
  /** Further figures added to the metrics summary under `node` (e.g. the distributor's counters). */
  readonly extraSummary?: () => Readonly<Record<string, unknown>>;
}
