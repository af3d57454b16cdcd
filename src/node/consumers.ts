/**
 * Why queued tasks wait for want of a consumer, read from what nodes publish and from the registry, so
 * that a task on a queue nothing consumes is shown as such (`GET /v1/tasks`, `garrison status`, the
 * dashboard), never silently queued. Three kinds of queue:
 *
 * - an application queue is consumed by the live nodes that list it in their heartbeat's
 *   `serves.queues` (a live node that publishes no queue list is taken to consume every queue);
 * - `agent:<id>`, an agent's own queue, is consumed while that agent runs: registered, not unhealthy
 *   (a paused agent is) and on a live node;
 * - `dispatch:<capability>` holds dispatched steps parked for want of an agent: they wait while no
 *   healthy agent has the capability (`no_capable_agent`, as the step's own `waiting` says); once one
 *   has it, the next sweep of any node routes them.
 */
import { agentQueueName } from '../agents/index.js';
import { PARKING_PREFIX } from '../coordination/index.js';
import type { AgentRegistry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import type { NodeInfo } from './membership.js';
import { liveNodes, servesOfInfo } from './serves.js';

/** Why the queued tasks of a queue wait. */
export interface QueueWait {
  /**
   * `no_live_consumer`: no live node consumes the queue (for an agent's queue: the agent is not
   * running); `no_capable_agent`: parked dispatched steps, and no healthy agent has their capability.
   */
  readonly reason: 'no_live_consumer' | 'no_capable_agent';
  /** One readable line, e.g. `no live node consumes queue emails`. */
  readonly message: string;
}

/** Where consumers are looked up. */
export interface ConsumerSources {
  /** The cluster's nodes with their heartbeats (read at most once per call). */
  readonly nodes: () => Promise<readonly NodeInfo[]>;
  readonly registry: Pick<AgentRegistry, 'lookup' | 'findCapableHealthy'>;
}

const AGENT_PREFIX = agentQueueName('');

/** Why each of `queues` waits; a queue something consumes is absent from the answer. */
export async function queueWaits(
  sources: ConsumerSources,
  queues: Iterable<string>,
): Promise<Map<string, QueueWait>> {
  const waits = new Map<string, QueueWait>();
  let live: NodeInfo[] | undefined;
  const liveOnce = async () => (live ??= liveNodes(await sources.nodes()));
  for (const queue of new Set(queues)) {
    const wait = queue.startsWith(PARKING_PREFIX)
      ? await parkedWait(sources, queue.slice(PARKING_PREFIX.length))
      : queue.startsWith(AGENT_PREFIX)
        ? await agentWait(sources, queue.slice(AGENT_PREFIX.length), queue, await liveOnce())
        : queueWait(queue, await liveOnce());
    if (wait !== undefined) waits.set(queue, wait);
  }
  return waits;
}

function queueWait(queue: string, live: readonly NodeInfo[]): QueueWait | undefined {
  const consumed = live.some((n) => {
    const queues = servesOfInfo(n.info)?.queues;
    return queues === undefined || queues.includes(queue);
  });
  return consumed
    ? undefined
    : { reason: 'no_live_consumer', message: `no live node consumes queue ${queue}` };
}

async function agentWait(
  sources: ConsumerSources,
  agentId: string,
  queue: string,
  live: readonly NodeInfo[],
): Promise<QueueWait | undefined> {
  const agent = await sources.registry.lookup(agentId);
  const why =
    agent === undefined
      ? `agent ${agentId} is not running`
      : agent.health === 'unhealthy'
        ? `agent ${agentId} is unhealthy or paused`
        : live.some((n) => n.id === agent.node)
          ? undefined
          : `agent ${agentId} is on node ${agent.node}, which is not live`;
  return why === undefined
    ? undefined
    : { reason: 'no_live_consumer', message: `${why}; queue ${queue} waits for it` };
}

async function parkedWait(sources: ConsumerSources, capability: string): Promise<QueueWait | undefined> {
  const capable = await sources.registry.findCapableHealthy(capability);
  return capable.length > 0
    ? undefined
    : {
        reason: 'no_capable_agent',
        message: `no healthy agent has the capability "${capability}"; the step waits for one`,
      };
}

/** A queue whose queued tasks nothing consumes. */
export interface UnconsumedQueue extends QueueWait {
  readonly queue: string;
  /** Its queued tasks. */
  readonly tasks: number;
}

/** A capability dispatched steps wait for and no healthy agent has. */
export interface WantedCapability extends QueueWait {
  readonly capability: string;
  /** The queue its steps are parked on (`dispatch:<capability>`). */
  readonly queue: string;
  /** Steps parked for it. */
  readonly steps: number;
}

/** Queued work nothing consumes: queues (application and agent queues), and capabilities parked steps want. */
export interface UnconsumedWork {
  readonly queues: UnconsumedQueue[];
  readonly capabilities: WantedCapability[];
}

/** Reads every queue with queued tasks and answers those nothing consumes, each with its count. */
export async function unconsumedWork(store: Store, sources: ConsumerSources): Promise<UnconsumedWork> {
  const rows = await store.query<{ queue: string; n: number | string }>(
    "SELECT queue, COUNT(*) AS n FROM garrison_tasks WHERE state = 'queued' GROUP BY queue ORDER BY queue",
  );
  const waits = await queueWaits(
    sources,
    rows.map((r) => r.queue),
  );
  const work: UnconsumedWork = { queues: [], capabilities: [] };
  for (const { queue, n } of rows) {
    const wait = waits.get(queue);
    if (wait === undefined) continue;
    if (queue.startsWith(PARKING_PREFIX))
      work.capabilities.push({
        capability: queue.slice(PARKING_PREFIX.length),
        queue,
        steps: Number(n),
        ...wait,
      });
    else work.queues.push({ queue, tasks: Number(n), ...wait });
  }
  return work;
}
