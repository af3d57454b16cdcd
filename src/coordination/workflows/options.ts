/** The options of the workflow supervisor, and their validation. */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Runtime } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { EventSink, SystemEvents } from '../../telemetry/index.js';
import type { Dispatcher, WorkflowDefinition } from '../../work/index.js';

export interface WorkflowSupervisorOptions {
  /** The runtime its processes live in. Its clock is the engine's clock. */
  readonly runtime: Runtime;
  readonly store: Store;
  /** This node's id: recorded as the owner of the runs it executes. */
  readonly nodeId: string;
  /**
   * Names the supervisor (`<id>`) and its processes (`<id>.servers`, `<id>.launcher`); unique within a
   * runtime. Default `workflows`.
   */
  readonly id?: string;
  /** Workflows this node executes (more with `register`). Default none. */
  readonly workflows?: ReadonlyArray<WorkflowDefinition<unknown, unknown>>;
  /**
   * Runs executing code here at once, one `WorkflowServer` process each; a run that only waits is
   * parked and holds none. Runs past it stay `pending` in the store until a server ends. Children of runs executing here are started past it (see
   * docs/coordination.md). Default 100.
   */
  readonly maxRunning?: number;
  /**
   * How often the store is searched for runs no wake-up announced (leases of dead nodes that expired,
   * runs left pending by nodes without a free slot), in ms. Default: `leaseMs`.
   */
  readonly scanIntervalMs?: number;
  /** How long a run's lease holds without renewal, in ms (renewed every third of it). Default 30000. */
  readonly leaseMs?: number;
  /** Where `ctx.dispatch` hands steps. Default: none. */
  readonly dispatcher?: Dispatcher;
  /** PostgreSQL only: journal flushes committing at once. Default 4. */
  readonly maxFlushesInFlight?: number;
  /**
   * Restarts of crashed `WorkflowServer`s allowed within `restartPeriodMs` before their supervisor gives
   * up (its siblings are then restarted with it, and every run is taken over again). Default 100.
   */
  readonly maxRestarts?: number;
  /** The window of `maxRestarts`, in ms of the runtime clock. Default 10000. */
  readonly restartPeriodMs?: number;
  /** Receives errors no caller waits for (engine, launcher). Default: a process warning. */
  readonly onError?: (error: unknown) => void;
  /** Where `workflow.finished` goes when a run executed here ends completed, failed or cancelled. Default none. */
  readonly events?: EventSink<Pick<SystemEvents, 'workflow.finished'>>;
}

export interface ResolvedSupervisorOptions {
  readonly id: string;
  readonly maxRunning: number;
  readonly leaseMs: number;
  readonly scanIntervalMs: number;
  readonly maxRestarts: number;
  readonly restartPeriodMs: number;
}

const schema = z
  .object({
    nodeId: z.string().min(1).max(200),
    id: z.string().min(1).max(180).default('workflows'),
    maxRunning: z.number().int().min(1).max(100_000).default(100),
    leaseMs: z.number().int().min(10).max(86_400_000).default(30_000),
    scanIntervalMs: z.number().int().min(1).max(86_400_000).optional(),
    maxRestarts: z.number().int().min(0).default(100),
    restartPeriodMs: z.number().int().min(1).default(10_000),
  })
  .strip();

export function resolveOptions(options: WorkflowSupervisorOptions): ResolvedSupervisorOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(`invalid workflow supervisor options: ${describeIssues(parsed.error.issues)}`);
  }
  const o = parsed.data;
  return { ...o, scanIntervalMs: o.scanIntervalMs ?? o.leaseMs };
}
