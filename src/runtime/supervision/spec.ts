import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import type { Pid } from '../pid.js';
import type { NodeDescription } from './describe.js';

/** When a supervisor restarts its children. */
export const SupervisorStrategy = {
  /** Only the child that exited is restarted. */
  oneForOne: 'one_for_one',
  /** All children are stopped (in reverse order) and started again (in order). */
  oneForAll: 'one_for_all',
  /** The child that exited and every child started after it are stopped and started again. */
  restForOne: 'rest_for_one',
} as const;
export type SupervisorStrategy = (typeof SupervisorStrategy)[keyof typeof SupervisorStrategy];

/** Which exits of a child its supervisor restarts. */
export const RestartType = {
  /** Every exit. */
  permanent: 'permanent',
  /** Failures only: not `normal` or `shutdown`. */
  transient: 'transient',
  /** None: the child is removed when it exits. */
  temporary: 'temporary',
} as const;
export type RestartType = (typeof RestartType)[keyof typeof RestartType];

/** How a child is stopped: ms to wait for its `terminate` before killing it, `brutal_kill`, or `infinity`. */
export type ChildShutdown = number | 'brutal_kill' | 'infinity';

/** What a supervisor hands to a child's `start`: pass it to `spawn` so the child is linked from birth. */
export interface ChildStartOptions {
  link: Pid;
}

export interface ChildSpec {
  /** Names the child within its supervisor (unique in a `Supervisor`). */
  id: string;
  /** Starts the child and resolves with its pid, e.g. `(o) => runtime.spawn(worker, args, o)`. */
  start: (options: ChildStartOptions) => Promise<Pid>;
  /** Default: `permanent`. */
  restart?: RestartType;
  /** Default: 5000 ms for a worker, `infinity` for a supervisor (its own children's timeouts bound it). */
  shutdownMs?: ChildShutdown;
  /** Default: `worker`. */
  type?: 'worker' | 'supervisor';
  /** Describes what the child is (set by `Supervisor.childSpec`, `DynamicSupervisor.childSpec`, `TaskPool.childSpec`). */
  describe?: () => NodeDescription;
}

export interface ResolvedChildSpec {
  readonly id: string;
  readonly start: (options: ChildStartOptions) => Promise<Pid>;
  readonly restart: RestartType;
  readonly shutdownMs: ChildShutdown;
  readonly type: 'worker' | 'supervisor';
  readonly describe: (() => NodeDescription) | undefined;
}

/** Restart intensity: more than `maxRestarts` restarts within `periodMs` and the supervisor gives up. */
export interface IntensityOptions {
  /** Default: 3. */
  maxRestarts?: number;
  /** The sliding window, in ms of the runtime clock. Default: 5000. */
  periodMs?: number;
}

export interface SupervisorSpec extends IntensityOptions {
  /** Names the supervisor in descriptions, errors and events. */
  id: string;
  /** Default: `one_for_one`. */
  strategy?: SupervisorStrategy;
  /** Started in this order, stopped in the reverse order. */
  children: ChildSpec[];
}

export interface ResolvedSupervisorSpec {
  readonly id: string;
  readonly strategy: SupervisorStrategy;
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly children: ResolvedChildSpec[];
}

const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', { message: `${what} must be a function` });

export const idSchema = z.string().min(1).max(200);

const shutdownSchema = z.union([z.number().int().min(0), z.literal('brutal_kill'), z.literal('infinity')]);

const childSchema = z.strictObject({
  id: idSchema,
  start: fn<ChildSpec['start']>('start'),
  restart: z.enum(['permanent', 'transient', 'temporary']).default('permanent'),
  shutdownMs: shutdownSchema.optional(),
  type: z.enum(['worker', 'supervisor']).default('worker'),
  describe: fn<() => NodeDescription>('describe').optional(),
});

export const intensitySchema = {
  maxRestarts: z.number().int().min(0).default(3),
  periodMs: z.number().int().min(1).default(5000),
};

const supervisorSchema = z.strictObject({
  id: idSchema,
  strategy: z.enum(['one_for_one', 'one_for_all', 'rest_for_one']).default('one_for_one'),
  ...intensitySchema,
  children: z.array(childSchema),
});

function resolveChild(c: z.output<typeof childSchema>): ResolvedChildSpec {
  return {
    id: c.id,
    start: c.start,
    restart: c.restart,
    shutdownMs: c.shutdownMs ?? (c.type === 'supervisor' ? 'infinity' : 5000),
    type: c.type,
    describe: c.describe,
  };
}

export function parseChildSpec(spec: ChildSpec, where: string): ResolvedChildSpec {
  const parsed = childSchema.safeParse(spec);
  if (!parsed.success)
    throw new ValidationError(`invalid child spec in ${where}: ${describeIssues(parsed.error.issues)}`);
  return resolveChild(parsed.data);
}

export function parseSupervisorSpec(spec: SupervisorSpec): ResolvedSupervisorSpec {
  const parsed = supervisorSchema.safeParse(spec);
  if (!parsed.success)
    throw new ValidationError(`invalid supervisor spec: ${describeIssues(parsed.error.issues)}`);
  const seen = new Set<string>();
  for (const c of parsed.data.children) {
    if (seen.has(c.id))
      throw new ValidationError(`supervisor ${parsed.data.id}: two children have the id ${c.id}`);
    seen.add(c.id);
  }
  return { ...parsed.data, children: parsed.data.children.map(resolveChild) };
}
