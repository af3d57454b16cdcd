import { expect } from 'vitest';
import {
  VirtualClock,
  createRuntime,
  type Behaviour,
  type CallResult,
  type ExitReason,
  type Pid,
  type Runtime,
  type RuntimeEvent,
} from '../../src/runtime/index.js';

export interface Harness {
  clock: VirtualClock;
  rt: Runtime;
  events: RuntimeEvent[];
  /** Lets queued messages and handlers run (no time passes). */
  settle: () => Promise<void>;
  /** Events of one type. */
  ofType: <T extends RuntimeEvent['type']>(type: T) => Extract<RuntimeEvent, { type: T }>[];
}

export function harness(options: { mailboxCapacity?: number; callTimeoutMs?: number } = {}): Harness {
  const clock = new VirtualClock();
  const events: RuntimeEvent[] = [];
  const rt = createRuntime({ clock, events: (e) => events.push(e), ...options });
  return {
    clock,
    rt,
    events,
    settle: () => clock.advance(0),
    ofType: <T extends RuntimeEvent['type']>(type: T) =>
      events.filter((e): e is Extract<RuntimeEvent, { type: T }> => e.type === type),
  };
}

/** A deferred promise a test resolves when it wants. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export type EchoCall =
  | { op: 'get' }
  | { op: 'echo'; value: unknown }
  | { op: 'crash'; message: string }
  | { op: 'stop'; reason: ExitReason }
  | { op: 'wait'; until: Promise<unknown> }
  | { op: 'later' };

/**
 * A small test process: its state is the list of casts and infos it got; calls echo, crash, stop, wait for
 * a promise, or reply later. It records terminate in `terminated`.
 */
export function recorder(
  terminated: Array<{ pid: Pid; reason: ExitReason }> = [],
): Behaviour<unknown[], void> {
  return {
    init: () => [],
    async handleCall(msg: EchoCall, from, state, ctx): Promise<CallResult<unknown[]>> {
      switch (msg.op) {
        case 'get':
          return { reply: state, state };
        case 'echo':
          return { reply: msg.value, state };
        case 'crash':
          throw new Error(msg.message);
        case 'stop':
          ctx.stop(msg.reason);
          return { reply: 'stopping', state };
        case 'wait':
          await msg.until;
          return { reply: 'waited', state };
        case 'later':
          return { noreply: true, state: [...state, from] };
      }
    },
    handleCast(msg: unknown, state) {
      if (msg === 'crash') throw new Error('cast crash');
      return [...state, msg];
    },
    handleInfo(msg: unknown, state) {
      return [...state, msg];
    },
    terminate(reason, _state, ctx) {
      terminated.push({ pid: ctx.self, reason });
    },
  };
}

/** A process whose casts wait for the test's go-ahead: lets a test fill its mailbox. */
export function gated(gate: Promise<unknown>): Behaviour<unknown[], void> {
  return {
    init: () => [],
    async handleCast(msg: unknown, state) {
      await gate;
      return [...state, msg];
    },
    handleCall(_msg, _from, state) {
      return { reply: state, state };
    },
  };
}

/**
 * A supervised worker for tree tests: logs `start id` and `stop id reason`, crashes on the call `crash`,
 * stops normally on `finish`, and can hang in terminate until `hangTerminate` settles.
 */
export function worker(log: string[], id: string, hangTerminate?: Promise<void>): Behaviour<string, void> {
  return {
    init: () => {
      log.push(`start ${id}`);
      return id;
    },
    handleCall(msg, _from, state, ctx) {
      if (msg === 'crash') throw new Error(`${id} crashed`);
      if (msg === 'finish') ctx.stop('normal');
      return { reply: state, state };
    },
    async terminate(reason) {
      log.push(`stop ${id} ${typeof reason === 'string' ? reason : 'error'}`);
      if (hangTerminate !== undefined) await hangTerminate;
    },
  };
}

/** `expect.objectContaining`, typed `unknown` so it nests in literals without an `any`. */
export function like(shape: Record<string, unknown>): unknown {
  return expect.objectContaining(shape) as unknown;
}

/** Matches any `Error`. */
export function anError(): unknown {
  return expect.any(Error) as unknown;
}
