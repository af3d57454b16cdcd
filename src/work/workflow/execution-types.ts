/** The shapes shared by an execution, its operations and its engine. */
import type { Clock } from '../../runtime/clock.js';
import type { Store, Tx } from '../../store/index.js';
import type { DispatchResults, Dispatcher } from './dispatcher.js';
import type { DueHandle, DueTimers } from './due-timers.js';
import type { FlushInput, FlushResult } from './flush-sql.js';
import type { JournalWriter } from './journal-writer.js';
import type { JournalEntry, SignalRecord } from './runs.js';
import type { RunExecution } from './execution.js';
import type {
  StepContext,
  StepRetryPolicy,
  WorkflowDefinition,
  WorkflowErrorInfo,
  WorkflowRef,
} from './types.js';

/** What an execution needs from its engine. */
export interface ExecutionHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: DueTimers;
  readonly writer: JournalWriter;
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly dispatcher: Dispatcher | undefined;
  readonly results: DispatchResults;
  /** Runs the flush SQL for a one-off write inside another transaction (transaction steps). */
  flushIn(tx: Tx, input: FlushInput): Promise<FlushResult>;
  definition(ref: WorkflowRef<unknown, unknown>): WorkflowDefinition<unknown, unknown>;
  /** Starts executing a child this run has just created (its row is committed). */
  launchChild(
    def: WorkflowDefinition<unknown, unknown>,
    id: string,
    inputText: string,
    parent: RunExecution,
    step: number,
  ): void;
  /** Whether new runs execute here at once (else they are left pending for `executeRun`). */
  readonly autoExecute: boolean;
  /** A run was created pending (when `autoExecute` is off). */
  pendingCreated(id: string): void;
  /** Asks a run (a child) to cancel, wherever it executes. */
  cancelRun(id: string): Promise<void>;
  /** A result has been handed into another run's journal entry: wake that run. */
  handedOff(runId: string, idx: number, entry: JournalEntry): void;
  /** The run may be doing nothing but wait: the engine looks whether to park it (`park.ts`). */
  idle(run: RunExecution): void;
  report(error: unknown): void;
}

/** How an execution ended. `halted` ends this node's execution but not the run. */
export type Outcome =
  | { readonly kind: 'completed'; readonly output: string | null }
  | { readonly kind: 'failed' | 'cancelled'; readonly error: WorkflowErrorInfo }
  | {
      readonly kind: 'halted';
      readonly reason: 'paused' | 'lease_lost' | 'stopped' | 'store_error' | 'parked';
      readonly error?: unknown;
    };

/** What parking a run that only waits writes and checks (`park.ts`). */
export interface ParkPlan {
  /** `sleeping` when every wait is a sleep or back-off, else `waiting`. */
  readonly status: 'sleeping' | 'waiting';
  /** The earliest timer of its waits (sleep, timeout, back-off, deadline): when it wakes by itself. */
  readonly wakeAt: number | undefined;
  /** Child and dispatched entries it waits for: a result handed in meanwhile wakes it at once. */
  readonly waited: readonly number[];
  /** Signals it has seen: any other one that arrived meanwhile wakes it at once. */
  readonly seenSignals: readonly number[];
}

/** A run as handed to an execution. */
export interface RunStart {
  readonly id: string;
  readonly def: WorkflowDefinition<unknown, unknown>;
  readonly inputText: string;
  readonly fence: number;
  readonly parentId: string | null;
  readonly parentStep: number | null;
  readonly control: 'pause' | 'cancel' | null;
  /** The run's stored W3C trace context (its start span), restored as the parent of its spans. */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
  readonly journal: readonly JournalEntry[];
  readonly signals: readonly SignalRecord[];
}

export type WaitResult =
  | { readonly kind: 'due' }
  | { readonly kind: 'entry'; readonly entry: JournalEntry }
  | { readonly kind: 'signal'; readonly signal: SignalRecord };

export interface Waiter {
  readonly kind: 'sleep' | 'signal' | 'child' | 'dispatch';
  readonly signalName: string | undefined;
  readonly dueAt: number | undefined;
  timer: DueHandle | undefined;
  resolve(result: WaitResult): void;
  reject(error: Error): void;
}

export interface Compensation {
  readonly name: string;
  readonly fn: (output: unknown, step: StepContext) => Promise<void>;
  readonly output: unknown;
  readonly retry: StepRetryPolicy | undefined;
}

export const noop = (): void => undefined;
/** A promise that never settles: what a halted run's operations return. Fresh each time, so it can be collected. */
export const never = <T>(): Promise<T> => new Promise<T>(noop);
