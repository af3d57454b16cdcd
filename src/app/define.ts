/**
 * `defineApp`: what a node runs — the application's workflows, its agents (and how many of each to
 * start), its queues with their handlers, its cron schedules and its node settings — declared once in a
 * module whose default export `garrison worker|serve|dev --app <module>` load. Validated with one zod
 * schema, so a mistake in the module is one readable line at load, before anything touches a store.
 */
import { z } from 'zod';
import type { AgentDefinition } from '../agents/index.js';
import { describeIssues, ValidationError } from '../errors.js';
import type { GarrisonNode, NodeConfigInput } from '../node/index.js';
import { nodeConfigSchema } from '../node/index.js';
import type { BreakerRegistry } from '../resilience/index.js';
import type { Clock } from '../runtime/index.js';
import type { MissedPolicy, TimerFiring } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import type { ClaimedTask, QueueDefinition, TaskContext, WorkflowDefinition } from '../work/index.js';

/** Agents of one type to run on each node of the application. */
export interface AppAgent {
  readonly definition: AgentDefinition;
  /**
   * How many to start on each node, with ids `<type>-<node id>-<n>`. Default 1 (unless `ids` is given).
   * 0 runs none here, but the node still hosts the type (agents resumed here, calls and steps to it).
   */
  readonly count?: number;
  /** Exactly these agent ids (each runs once in the cluster: one already running elsewhere is left there). */
  readonly ids?: readonly string[];
}

/** A queue this application works, with the function that handles its tasks. */
export interface AppQueue<P = unknown> {
  readonly queue: QueueDefinition<P, never>;
  /** Handles one task; a throw fails the attempt (retried per the queue's policy). Annotate `task` for its payload type. */
  handler(task: ClaimedTask<P>, context: TaskContext): unknown;
  /** Tasks of this queue handled at once by each node. Default 10. */
  readonly concurrency?: number;
  /** Lease on a claimed task, in ms; renewed while its handler runs. Default 30000. */
  readonly leaseMs?: number;
}

/** What a schedule's `run` is given besides the firing. */
export interface ScheduleContext {
  readonly node: GarrisonNode;
}

/** A cron schedule of the application: fired once per due time in the whole cluster (by the cron leader). */
export interface AppSchedule {
  /** 1–150 characters of letters, digits and `_ . : -`; the durable timer is `app:<name>`. */
  readonly name: string;
  /** A cron pattern (5 or 6 fields, croner syntax), e.g. `0 * * * *`. */
  readonly cron: string;
  /** IANA time zone of the pattern. Default the node's. */
  readonly timezone?: string;
  /** A due time missed while no node ran: `run_once` (default) or `skip`. */
  readonly missedPolicy?: MissedPolicy;
  /** Starts a run of this workflow at each due time, with id `<name>:<due time>` (so once per time). */
  readonly workflow?: WorkflowDefinition<unknown, unknown>;
  /** The workflow's input. Default `{}`. */
  readonly input?: unknown;
  /** Runs at each due time (a failure is retried with backoff). Given instead of, or with, `workflow`. */
  readonly run?: (firing: TimerFiring, context: ScheduleContext) => void | Promise<void>;
}

/** The parts of an application, as `defineApp` takes them. */
export interface AppSpec {
  /** The workflows this application's nodes execute. */
  readonly workflows?: ReadonlyArray<WorkflowDefinition<unknown, unknown>>;
  readonly agents?: readonly AppAgent[];
  readonly queues?: ReadonlyArray<AppQueue>;
  readonly schedules?: readonly AppSchedule[];
  /**
   * Node settings (`NodeConfigInput` without `store`, `app` and `api`, which belong to the command line):
   * defaults that a `--config` file and the command line override.
   */
  readonly config?: Omit<NodeConfigInput, 'store' | 'app' | 'api'>;
  /** The application's version, shown when a node starts. */
  readonly version?: string;
}

/** What a factory application is given: the node's store (open, migrated) and parts made before the node. */
export interface AppContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly breakers: BreakerRegistry;
}

/** A factory: builds the application from the store it will run on (its agents may need it). */
export type AppFactory = (context: AppContext) => AppSpec | Promise<AppSpec>;

/** An application, as `defineApp` returns it: the default export of an app module. */
export interface GarrisonApp {
  /** Marks what `defineApp` made. */
  readonly kind: 'garrison.app';
  /** Builds the validated parts (calls the factory, if the app is one). */
  resolve(context: AppContext): Promise<ResolvedApp>;
}

/** The parts, validated, with defaults applied. */
export interface ResolvedApp {
  readonly workflows: ReadonlyArray<WorkflowDefinition<unknown, unknown>>;
  readonly agents: ReadonlyArray<{
    readonly definition: AgentDefinition;
    readonly ids?: readonly string[];
    readonly count: number;
  }>;
  readonly queues: readonly AppQueue[];
  readonly schedules: readonly AppSchedule[];
  readonly config: Omit<NodeConfigInput, 'store' | 'app' | 'api'>;
  readonly version: string | undefined;
}

const fn = (what: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', what);
const name = z
  .string()
  .min(1)
  .max(150)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

const workflowSchema = z.looseObject({ name: z.string().min(1), run: fn('a workflow function') });
const agentDefinitionSchema = z.looseObject({
  type: z.string().min(1),
  actions: z.custom<ReadonlyMap<string, unknown>>((v) => v instanceof Map, 'a map of actions'),
});

/** The schema an application's parts are checked against at load. */
export const appSpecSchema = z.strictObject({
  workflows: z
    .array(workflowSchema, { error: 'a list of workflows made with defineWorkflow' })
    .refine((w) => new Set(w.map((d) => d.name)).size === w.length, 'workflow names must be distinct')
    .default([]),
  agents: z
    .array(
      z
        .strictObject({
          definition: agentDefinitionSchema,
          count: z.number().int().min(0).max(10_000).optional(),
          ids: z.array(z.string().min(1).max(200)).min(1).optional(),
        })
        .refine((a) => a.count === undefined || a.ids === undefined, 'give count or ids, not both'),
    )
    .refine((a) => new Set(a.map((x) => x.definition.type)).size === a.length, 'each agent type appears once')
    .default([]),
  queues: z
    .array(
      z.strictObject({
        queue: z.looseObject({ name: z.string().min(1), parse: fn('a queue made with defineQueue') }),
        handler: fn('a task handler function'),
        concurrency: z.number().int().min(1).max(10_000).optional(),
        leaseMs: z.number().int().min(10).optional(),
      }),
    )
    .refine((q) => new Set(q.map((x) => x.queue.name)).size === q.length, 'each queue appears once')
    .default([]),
  schedules: z
    .array(
      z
        .strictObject({
          name,
          cron: z.string().min(1).max(200),
          timezone: z.string().min(1).max(100).optional(),
          missedPolicy: z.enum(['run_once', 'skip']).optional(),
          workflow: workflowSchema.optional(),
          input: z.unknown().optional(),
          run: fn('a function').optional(),
        })
        .refine((s) => s.workflow !== undefined || s.run !== undefined, 'give a workflow or a run function'),
    )
    .refine((s) => new Set(s.map((x) => x.name)).size === s.length, 'schedule names must be distinct')
    .default([]),
  config: nodeConfigSchema.omit({ store: true, app: true, api: true }).partial().optional(),
  version: z.string().min(1).max(100).optional(),
});

/** Validates an application's parts; throws `invalid_input` naming every bad field. */
export function parseAppSpec(spec: unknown): ResolvedApp {
  const parsed = appSpecSchema.safeParse(spec);
  if (!parsed.success)
    throw new ValidationError(`invalid application: ${describeIssues(parsed.error.issues)}`, {
      issues: parsed.error.issues,
    });
  const s = spec as AppSpec;
  return {
    workflows: s.workflows ?? [],
    agents: (s.agents ?? []).map((a) => ({
      definition: a.definition,
      count: a.ids === undefined ? (a.count ?? 1) : a.ids.length,
      ...(a.ids === undefined ? {} : { ids: a.ids }),
    })),
    queues: s.queues ?? [],
    schedules: s.schedules ?? [],
    config: s.config ?? {},
    version: s.version,
  };
}

/**
 * Declares an application: its parts, or a factory given the node's store (for agents that write to it).
 * A plain object is validated at once; a factory's result when the node starts.
 */
export function defineApp(spec: AppSpec | AppFactory): GarrisonApp {
  if (typeof spec === 'function') {
    return { kind: 'garrison.app', resolve: async (context) => parseAppSpec(await spec(context)) };
  }
  const resolved = parseAppSpec(spec);
  return { kind: 'garrison.app', resolve: () => Promise.resolve(resolved) };
}

/** True for what `defineApp` returns. */
export function isApp(value: unknown): value is GarrisonApp {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'garrison.app' &&
    typeof (value as { resolve?: unknown }).resolve === 'function'
  );
}
