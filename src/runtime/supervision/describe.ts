import type {
  ResolvedSupervisorSpec,
  RestartType,
  ChildShutdown,
  SupervisorStrategy,
  SupervisorSpec,
} from './spec.js';
import { parseSupervisorSpec } from './spec.js';

/**
 * Plain descriptions of supervision trees: no functions, no pids, so two trees compare with `toEqual`. A
 * test builds the tree the way production does and compares the descriptions (seed flaw 6).
 */
export type NodeDescription = SupervisorDescription | DynamicSupervisorDescription | TaskPoolDescription;

export interface SupervisorDescription {
  readonly kind: 'supervisor';
  readonly id: string;
  readonly strategy: SupervisorStrategy;
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly children: ChildDescription[];
}

/** Children of a dynamic supervisor come and go at run time, so only its limits are described. */
export interface DynamicSupervisorDescription {
  readonly kind: 'dynamic_supervisor';
  readonly id: string;
  readonly maxChildren: number | null;
  readonly maxRestarts: number;
  readonly periodMs: number;
}

export interface TaskPoolDescription {
  readonly kind: 'task_pool';
  readonly name: string;
  readonly concurrency: number;
  readonly taskTimeoutMs: number;
  readonly maxQueued: number;
}

export interface ChildDescription {
  readonly id: string;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
  readonly shutdownMs: ChildShutdown;
  /** What the child is, when its spec can say (supervisors and pools built with their `childSpec`). */
  readonly node?: NodeDescription;
}

export function describeResolved(spec: ResolvedSupervisorSpec): SupervisorDescription {
  return {
    kind: 'supervisor',
    id: spec.id,
    strategy: spec.strategy,
    maxRestarts: spec.maxRestarts,
    periodMs: spec.periodMs,
    children: spec.children.map((c) => {
      const d: ChildDescription = { id: c.id, type: c.type, restart: c.restart, shutdownMs: c.shutdownMs };
      return c.describe === undefined ? d : { ...d, node: c.describe() };
    }),
  };
}

/** Describes a supervisor spec and, recursively, the children that can describe themselves. */
export function describeTree(spec: SupervisorSpec): SupervisorDescription {
  return describeResolved(parseSupervisorSpec(spec));
}
