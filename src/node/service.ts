/**
 * A long-lived component (the distributor, the health monitor, a queue worker…) hosted by a supervised
 * process: `init` starts the component, `terminate` stops it, and a fatal error the component reports
 * ends the process so its supervisor restarts it. A component never runs outside a process: seed flaw 7.
 */
import type { Behaviour, ExitReason, Pid, ProcessContext, Runtime } from '../runtime/index.js';

/** What a hosted component must offer. */
export interface Service {
  /** Stops the component and releases what it holds. Called once. */
  stop(): Promise<void>;
  /** A one-line summary for status listings (optional). */
  describe?(): Record<string, unknown>;
  /** Handles an info message sent to the hosting process (a scheduler tick); a throw ends the process. */
  handleInfo?(msg: unknown): void | Promise<void>;
}

/** Starts a component. `fail(error)` ends the hosting process with that error (its supervisor decides). */
export type ServiceFactory = (host: ServiceHost) => Promise<Service>;

export interface ServiceHost {
  readonly self: Pid;
  readonly runtime: Runtime;
  /** Ends the hosting process with `error` as its reason; the supervisor restarts it by its strategy. */
  fail(error: unknown): void;
}

interface State {
  readonly service: Service;
}

/** A failure reported by a component: delivered to its process, which then exits with the error. */
interface ServiceFailed {
  readonly type: 'service_failed';
  readonly error: unknown;
}

const isServiceFailed = (msg: unknown): msg is ServiceFailed =>
  typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'service_failed';

/**
 * Tracks the component of every live service process so a process ended by `kill` (which skips
 * `terminate`) still has its component stopped: the node calls `reap(pid)` from its exit events.
 */
export class ServiceTable {
  private readonly live = new Map<string, Service>();

  add(pid: Pid, service: Service): void {
    this.live.set(pid.toString(), service);
  }

  /** Stops and forgets the component of `pid`, if it is still running. */
  async reap(pid: Pid): Promise<void> {
    const key = pid.toString();
    const service = this.live.get(key);
    if (service === undefined) return;
    this.live.delete(key);
    await service.stop();
  }

  get size(): number {
    return this.live.size;
  }
}

/** The behaviour of a process hosting one component. */
export function serviceBehaviour(
  name: string,
  factory: ServiceFactory,
  table: ServiceTable,
): Behaviour<State, undefined> {
  return {
    async init(_args: undefined, ctx: ProcessContext): Promise<State> {
      const self = ctx.self;
      const runtime = ctx.runtime;
      const service = await factory({
        self,
        runtime,
        fail(error) {
          void runtime.send(self, { type: 'service_failed', error } satisfies ServiceFailed).catch(() => {
            // The process is already gone: its supervisor has seen the exit.
          });
        },
      });
      table.add(self, service);
      return { service };
    },
    handleCall(msg, _from, state) {
      if (msg === 'describe') return { reply: { name, ...(state.service.describe?.() ?? {}) }, state };
      throw new Error(`service ${name}: unknown call ${JSON.stringify(msg)}`);
    },
    async handleInfo(msg, state) {
      if (isServiceFailed(msg)) throw msg.error instanceof Error ? msg.error : new Error(String(msg.error));
      await state.service.handleInfo?.(msg);
      return state;
    },
    async terminate(_reason: ExitReason, _state: State, ctx: ProcessContext): Promise<void> {
      await table.reap(ctx.self);
    },
  };
}
