import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';
import type { Clock } from './clock.js';
import type { RuntimeEventSink } from './events.js';
import { Pid } from './pid.js';

/**
 * What happens when a message arrives at a full mailbox. The process chooses; there is no silent drop.
 * - `reject`: the sender's `cast`/`send`/`call` fails at once with `mailbox_full`.
 * - `block`: the sender's promise waits until there is room (bounded by its `timeoutMs`).
 * - `drop`: the message is dropped, counted and reported as a `mailbox_drop` event; `cast` resolves `'dropped'`.
 *   Calls are never dropped: a call to a full `drop` mailbox fails with `mailbox_full`.
 */
export const OverflowPolicy = {
  reject: 'reject',
  block: 'block',
  drop: 'drop',
} as const;
export type OverflowPolicy = (typeof OverflowPolicy)[keyof typeof OverflowPolicy];

export interface SpawnOptions {
  /** A name to register the process under (unique while it lives). Default: none. */
  name?: string;
  /** Links the new process to this one before `init` runs (a supervisor passes itself). Default: none. */
  link?: Pid;
  /** Messages the mailbox holds before its overflow policy applies. Default: the runtime's `mailboxCapacity`. */
  mailboxCapacity?: number;
  /** What a full mailbox does. Default: `reject`. */
  overflow?: OverflowPolicy;
  /** Start with exits trapped (see `ProcessContext.trapExit`). Default: false. */
  trapExit?: boolean;
}

const capacity = z.number().int().min(1).max(100_000_000);

const spawnSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  link: z.instanceof(Pid).optional(),
  mailboxCapacity: capacity.optional(),
  overflow: z.enum(['reject', 'block', 'drop']).optional(),
  trapExit: z.boolean().optional(),
});

export function parseSpawnOptions(options: SpawnOptions): SpawnOptions {
  const parsed = spawnSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid spawn options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

export interface RuntimeOptions {
  /** Where time and every timeout come from. Tests pass a `VirtualClock`. */
  clock: Clock;
  /** Receives typed runtime events (spawn, exit, restart, overflow, drop, leaks…). Default: none. */
  events?: RuntimeEventSink;
  /** Default mailbox capacity in messages. Default: 1000. */
  mailboxCapacity?: number;
  /** Default `call` timeout in ms. Default: 5000. */
  callTimeoutMs?: number;
}

const runtimeSchema = z.strictObject({
  clock: z.custom<Clock>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Clock).now === 'function' &&
      typeof (v as Clock).setTimer === 'function',
    { message: 'must be a Clock (now, setTimer)' },
  ),
  events: z
    .custom<RuntimeEventSink>((v) => typeof v === 'function', { message: 'must be a function' })
    .optional(),
  mailboxCapacity: capacity.default(1000),
  callTimeoutMs: z.number().min(0).default(5000),
});

export type ResolvedRuntimeOptions = z.output<typeof runtimeSchema>;

export function parseRuntimeOptions(options: RuntimeOptions): ResolvedRuntimeOptions {
  const parsed = runtimeSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid runtime options: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** A timeout option: a non-negative number of ms, or `Infinity` for none. */
export function checkTimeout(what: string, ms: number): number {
  const checked = timeoutOption(what, ms, 0);
  if (typeof checked !== 'number') throw checked;
  return checked;
}

/** Like `checkTimeout` for promise-returning APIs: the error is returned, to be rejected with. */
export function timeoutOption(
  what: string,
  ms: number | undefined,
  fallback: number,
): number | ValidationError {
  if (ms === undefined) return fallback;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    return new ValidationError(`${what} must be a number of ms ≥ 0 (or Infinity), got ${String(ms)}`);
  }
  return ms;
}

export interface ProcessCallOptions {
  /** How long to wait for the reply, in ms; `Infinity` waits until a reply or the callee's exit. Default: the runtime's `callTimeoutMs` (5000). */
  timeoutMs?: number;
}

export interface ProcessCastOptions {
  /** With a `block` mailbox, how long to wait for room before failing with `mailbox_full`, in ms. Default: the runtime's `callTimeoutMs` (5000). */
  timeoutMs?: number;
}

export interface ProcessStopOptions {
  /** How long `terminate` may take before the process is killed, in ms (`Infinity`: never killed). Default: 5000. */
  timeoutMs?: number;
}
