/**
 * The health monitor: turns liveness into registry health. An agent's heartbeat is its node's heartbeat
 * row (every node beats through its scheduler) plus, on its own node, a live process. Each sweep
 * compares what it sees with the registry and commits the transitions:
 *
 *   own node, process alive            → healthy (unless its host marked it degraded: a restart)
 *   own node, no live process          → unhealthy
 *   other node up                      → healthy, if this monitor had lowered it
 *   other node suspect (missed beats)  → degraded
 *   other node down or silent too long → unhealthy
 *
 * The distributor routes only to healthy agents, so work stops going to a dead node at once.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import { Health, type Agent, type AgentRegistry } from '../../registry/index.js';
import type { Clock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';

/** A health change the monitor committed. */
export interface HealthTransition {
  readonly agentId: string;
  readonly node: string;
  readonly from: Health;
  readonly to: Health;
  readonly reason: 'process_alive' | 'process_gone' | 'node_up' | 'node_suspect' | 'node_down';
  /** UNIX epoch ms. */
  readonly at: number;
}

export interface HealthMonitorOptions {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly clock: Clock;
  /** This node's id. */
  readonly nodeId: string;
  /** Whether an agent of this node has a live process now. */
  readonly isAlive: (agentId: string) => boolean;
  /** Node heartbeat period, in ms: a node silent for 2 periods is suspect. */
  readonly heartbeatMs: number;
  /** Silence after which a node is down, in ms. */
  readonly downAfterMs: number;
  /** Called with each committed transition (after its commit). */
  readonly onTransition?: (transition: HealthTransition) => void;
}

const optionsSchema = z.object({
  nodeId: z.string().min(1).max(200),
  heartbeatMs: z.number().int().min(1),
  downAfterMs: z.number().int().min(1),
});

/** Metadata key recording that this monitor lowered an agent's health (so it may raise it again). */
const LOWERED_BY = 'healthMonitor';

export class HealthMonitor {
  private readonly o: HealthMonitorOptions;
  private running: Promise<HealthTransition[]> | undefined;

  constructor(options: HealthMonitorOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success)
      throw new ValidationError(`invalid health monitor options: ${describeIssues(parsed.error.issues)}`);
    this.o = options;
  }

  /** One sweep over every agent; concurrent calls share it. Answers the transitions it committed. */
  check(): Promise<HealthTransition[]> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async nodeStates(): Promise<Map<string, 'up' | 'suspect' | 'down'>> {
    const now = this.o.clock.now();
    const rows = await this.o.store.query<{ id: string; heartbeat_at: number | string; state: string }>(
      'SELECT id, heartbeat_at, state FROM garrison_nodes',
    );
    const states = new Map<string, 'up' | 'suspect' | 'down'>();
    for (const r of rows) {
      const silence = now - Number(r.heartbeat_at);
      states.set(
        r.id,
        r.state === 'down' || silence > this.o.downAfterMs
          ? 'down'
          : silence > 2 * this.o.heartbeatMs
            ? 'suspect'
            : 'up',
      );
    }
    return states;
  }

  private desired(agent: Agent, nodes: Map<string, 'up' | 'suspect' | 'down'>) {
    const lowered = agent.metadata[LOWERED_BY] === true;
    if (agent.node === this.o.nodeId) {
      if (!this.o.isAlive(agent.id)) return { health: Health.unhealthy, reason: 'process_gone' as const };
      return lowered ? { health: Health.healthy, reason: 'process_alive' as const } : undefined;
    }
    const state = nodes.get(agent.node) ?? 'down';
    if (state === 'down') return { health: Health.unhealthy, reason: 'node_down' as const };
    if (state === 'suspect') return { health: Health.degraded, reason: 'node_suspect' as const };
    return lowered ? { health: Health.healthy, reason: 'node_up' as const } : undefined;
  }

  private async sweep(): Promise<HealthTransition[]> {
    const [agents, nodes] = await Promise.all([this.o.registry.list(), this.nodeStates()]);
    const done: HealthTransition[] = [];
    for (const agent of agents) {
      const want = this.desired(agent, nodes);
      if (want === undefined || want.health === agent.health) continue;
      let changed = false;
      try {
        await this.o.registry.update(agent.id, (current) => {
          // Someone else changed it since the read (a restart, its host): theirs stands this sweep.
          if (current.health !== agent.health) return {};
          changed = true;
          const { [LOWERED_BY]: _was, ...rest } = current.metadata;
          return {
            health: want.health,
            metadata: want.health === Health.healthy ? rest : { ...rest, [LOWERED_BY]: true },
          };
        });
      } catch (error) {
        // Unregistered meanwhile (its process ended): nothing to change.
        if ((error as { code?: string }).code === 'agent_not_found') continue;
        throw error;
      }
      if (!changed) continue;
      const t: HealthTransition = {
        agentId: agent.id,
        node: agent.node,
        from: agent.health,
        to: want.health,
        reason: want.reason,
        at: this.o.clock.now(),
      };
      done.push(t);
      this.o.onTransition?.(t);
    }
    return done;
  }
}

export function createHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  return new HealthMonitor(options);
}
