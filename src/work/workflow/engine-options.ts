/** The options of the workflow engine and of its calls, and their validation. */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/clock.js';
import type { Store } from '../../store/index.js';
import type { Dispatcher } from './dispatcher.js';
import { WorkflowStatus } from './types.js';

export interface WorkflowEngineOptions {
  readonly store: Store;
  /** This node's id: recorded as the owner of the runs it executes. */
  readonly nodeId: string;
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
  /** How long a run's lease holds without renewal, in ms. Renewed every third of it. Default 30000. */
  readonly leaseMs?: number;
  /** Where `ctx.dispatch` hands steps. Default: none (dispatching fails with `no_dispatcher`). */
  readonly dispatcher?: Dispatcher;
  /**
   * How often the engine looks for runs to take over (expired leases, pending runs), in ms; 0 turns it
   * off (call `recover()` yourself). Default: `leaseMs`, or 0 when `autoExecute` is false.
   */
  readonly recoverIntervalMs?: number;
  /** Receives errors no caller is waiting for. Default: a process warning. */
  readonly onError?: (error: unknown) => void;
  /**
   * Called when this node stops executing a run that is not finished: `paused`, `lease_lost` (another
   * node took it over; this node's late writes were rejected), `stopped` (engine stopped) or
   * `store_error` (a journal write failed; the run is recovered later).
   */
  readonly onRunHalted?: (
    workflowId: string,
    reason: 'paused' | 'lease_lost' | 'stopped' | 'store_error',
  ) => void;
  /**
   * Execute started runs (and their children) on this engine at once. Default true. When false, `start`
   * only makes the run durable with status `pending` and calls `onRunPending`; a supervisor then drives
   * each run with `executeRun(id)` (in a process of its own), and `recover()` picks up the rest.
   */
  readonly autoExecute?: boolean;
  /** Called once a run has been created `pending` (only when `autoExecute` is false). */
  readonly onRunPending?: (workflowId: string) => void;
  /**
   * Only when `autoExecute` is false: called instead of executing a run here at once when a run needs
   * an executor through this engine — a resumed run, or a cancelled one nobody executes — so that a
   * supervisor gives it a process (and counts it against its limit). Default: such runs are executed
   * here at once (what a command-line process that cancels a run wants).
   */
  readonly onRunClaimable?: (workflowId: string) => void;
  /**
   * SQLite only: how often the engine checks whether another process (a client, another node) committed,
   * in ms — `PRAGMA data_version`, one tiny read — and then looks at once for runs it should start or
   * wake. 0 turns it off (the lease tick and `recoverIntervalMs` still find everything). Default 20 with
   * the system clock, 0 with any other clock.
   */
  readonly changePollMs?: number;
  /**
   * PostgreSQL only: journal flushes committing at once (each on its own pool connection). Default 4.
   * SQLite has a single writer and always uses 1.
   */
  readonly maxFlushesInFlight?: number;
  /**
   * Park runs that only wait (a sleep, a signal, a child, a dispatched step): their execution leaves
   * memory and their row is left unowned until something wakes them; then they are rebuilt from their
   * journal (docs/workflows.md, _What a waiting run costs_). Default true.
   */
  readonly parkWaits?: boolean;
  /** A wait whose timer is due sooner than this, in ms, keeps its run in memory instead. Default 1000. */
  readonly parkMinWaitMs?: number;
}

export const optionsSchema = z.object({
  nodeId: z.string().min(1).max(200),
  leaseMs: z.number().int().min(10).max(86_400_000).optional(),
  recoverIntervalMs: z.number().int().min(0).optional(),
  changePollMs: z.number().int().min(0).max(60_000).optional(),
  maxFlushesInFlight: z.number().int().min(1).max(64).optional(),
  parkWaits: z.boolean().optional(),
  parkMinWaitMs: z.number().int().min(0).max(86_400_000).optional(),
});
export const startOptionsSchema = z.object({ workflowId: z.string().min(1).max(200).optional() }).strict();
export const listOptionsSchema = z
  .object({
    status: z.union([z.enum(WorkflowStatus), z.array(z.enum(WorkflowStatus))]).optional(),
    name: z.string().min(1).max(200).optional(),
    parentId: z.string().min(1).max(200).optional(),
    createdAfter: z.number().int().optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict();
export const resultOptionsSchema = z.object({ timeoutMs: z.number().min(0).optional() }).strict();

/** Zod only where there is something to check: these calls are on the hot path. */
export function isEmpty(options: object): boolean {
  for (const _ in options) return false;
  return true;
}

export function invalid(
  what: string,
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): ValidationError {
  return new ValidationError(`invalid ${what}: ${describeIssues(issues)}`);
}
