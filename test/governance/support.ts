/** Test helpers of the governance tests: a runtime on a virtual clock and a stand-in scheduler. */
import {
  VirtualClock,
  createRuntime,
  type Pid,
  type Runtime,
  type TimerHandle,
} from '../../src/runtime/index.js';
import type { SensorScheduler } from '../../src/governance/index.js';
import type { GovernanceEventSink, GovernanceEvents } from '../../src/governance/index.js';

export interface Harness {
  readonly clock: VirtualClock;
  readonly runtime: Runtime;
  /** Lets queued messages and handlers run (no time passes). */
  settle(): Promise<void>;
}

export function harness(): Harness {
  const clock = new VirtualClock();
  const runtime = createRuntime({ clock });
  return { clock, runtime, settle: () => clock.advance(0) };
}

/**
 * The scheduler's process timers as the sensors use them, on the runtime's clock: `msg` goes to `owner`
 * every `intervalMs`, and the timer is cancelled when the owner exits. `active` counts live timers.
 */
export function testScheduler(runtime: Runtime): SensorScheduler & { readonly active: () => number } {
  const timers = new Set<{ handle: TimerHandle | undefined }>();
  return {
    active: () => timers.size,
    every(owner: Pid, intervalMs: number, msg: unknown) {
      const entry: { handle: TimerHandle | undefined } = { handle: undefined };
      const arm = () => {
        entry.handle = runtime.clock.setTimer(intervalMs, () => {
          runtime.send(owner, msg).catch(() => undefined);
          arm();
        });
      };
      arm();
      timers.add(entry);
      runtime.monitor(
        owner,
        () => {
          entry.handle?.cancel();
          timers.delete(entry);
        },
        { label: 'test scheduler' },
      );
    },
  };
}

/** Records governance events in order. */
export function recordEvents(): GovernanceEventSink & {
  readonly list: Array<{ name: keyof GovernanceEvents; payload: unknown }>;
  of<K extends keyof GovernanceEvents>(name: K): Array<GovernanceEvents[K]>;
} {
  const list: Array<{ name: keyof GovernanceEvents; payload: unknown }> = [];
  return {
    list,
    emit(name, payload) {
      list.push({ name, payload });
    },
    of<K extends keyof GovernanceEvents>(name: K) {
      return list.filter((e) => e.name === name).map((e) => e.payload as GovernanceEvents[K]);
    },
  };
}
