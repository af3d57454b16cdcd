/**
 * A sensor's process. It takes a reading on every scheduler tick (the scheduler owns the timer, which
 * dies with this process) or when readings are pushed to it (event-driven sensors), keeps a bounded
 * history, and turns threshold crossings into signals: a callback and `sensor.signal` events. Governance
 * sits below messaging, so signals leave through those two and nothing else.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import type { Behaviour, ChildSpec, Pid, ProcessContext, Runtime } from '../../runtime/index.js';
import { alwaysSample, describeError, emitTo, type Sampler } from '../../telemetry/index.js';
import type { GovernanceEventSink } from '../events.js';
import { Ring } from './ring.js';
import { ThresholdState, compileThresholds } from './thresholds.js';
import type {
  HistoryEntry,
  Readings,
  Sensor,
  SensorSignal,
  SensorSnapshot,
  SensorThreshold,
} from './types.js';

/** The scheduler's process timers: `every(owner, intervalMs, msg)` sends `msg` to `owner` every `intervalMs`. */
export interface SensorScheduler {
  every(owner: Pid, intervalMs: number, msg: unknown): unknown;
}

export interface SensorProcessOptions {
  readonly sensor: Sensor;
  /** Ticks the sensor. Without one the sensor only reads when pushed to or asked (`sampleNow`). */
  readonly scheduler?: SensorScheduler;
  /** Time between readings, ms (≥ 10). Default 10 000. */
  readonly intervalMs?: number;
  /** Thresholds on the readings. Default none. */
  readonly thresholds?: readonly SensorThreshold[];
  /** Readings kept (≥ 1). Default 360: an hour at the default interval. */
  readonly historySize?: number;
  /** Raise and clear signals kept (≥ 1). Default 100. */
  readonly signalHistorySize?: number;
  /** Called with every signal, in order. Must not throw (a throw becomes a process warning). */
  readonly onSignal?: (signal: SensorSignal) => void;
  /** Where `sensor.signal`, `sensor.reading` and `sensor.failed` go. Default none. */
  readonly events?: GovernanceEventSink;
  /** Which readings are reported as `sensor.reading` events. Default every one. */
  readonly readingSampler?: Sampler;
}

/** What a tick from the scheduler looks like. */
export const SENSOR_TICK = Object.freeze({ type: 'garrison.sensor.tick' as const });

type SensorCall = { readonly op: 'snapshot' } | { readonly op: 'sample' };
interface PushReadings {
  readonly op: 'push';
  readonly readings: Readings;
}

interface State {
  samples: number;
  failures: number;
  lastSampleAt: number | undefined;
  readonly history: Ring<HistoryEntry>;
  readonly signals: Ring<SensorSignal>;
  readonly thresholds: ThresholdState;
}

const optionsSchema = z.strictObject({
  sensor: z.custom<Sensor>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Sensor).sample === 'function' &&
      typeof (v as Sensor).name === 'string' &&
      /^[A-Za-z0-9_.:-]{1,100}$/.test((v as Sensor).name),
    { message: 'a sensor needs a name (letters, digits, _ . : -) and a sample function' },
  ),
  scheduler: z.unknown().optional(),
  intervalMs: z.number().int().min(10).default(10_000),
  thresholds: z.array(z.unknown()).default([]),
  historySize: z.number().int().min(1).max(100_000).default(360),
  signalHistorySize: z.number().int().min(1).max(100_000).default(100),
  onSignal: z.unknown().optional(),
  events: z.unknown().optional(),
  readingSampler: z.unknown().optional(),
});

/** The registered name of a sensor's process. */
export function sensorProcessName(sensorName: string): string {
  return `garrison.sensor.${sensorName}`;
}

/** The behaviour of a sensor's process. Validates the options (throws `invalid_input`). */
export function sensorBehaviour(options: SensorProcessOptions): Behaviour<State, undefined> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid sensor options: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const { sensor, scheduler, events } = options;
  const name = sensor.name;
  const compiled = compileThresholds(options.thresholds ?? []);
  const sampler = options.readingSampler ?? alwaysSample();

  const emitSignal = (signal: SensorSignal) => {
    emitTo(events, 'sensor.signal', signal);
    if (options.onSignal !== undefined) {
      try {
        options.onSignal(signal);
      } catch (error) {
        process.emitWarning(`a sensor signal callback threw: ${describeError(error)}`, {
          type: 'GarrisonSensorWarning',
        });
      }
    }
  };

  const record = (state: State, readings: Readings, at: number) => {
    state.samples++;
    state.lastSampleAt = at;
    state.history.push({ at, readings });
    if (sampler.sample()) emitTo(events, 'sensor.reading', { sensor: name, at, readings });
    for (const signal of state.thresholds.apply(readings, at)) {
      state.signals.push(signal);
      emitSignal(signal);
    }
  };

  const sampleNow = async (state: State, ctx: ProcessContext) => {
    const at = ctx.runtime.clock.now();
    let readings: Readings;
    try {
      readings = await sensor.sample(at);
    } catch (error) {
      state.failures++;
      emitTo(events, 'sensor.failed', {
        sensor: name,
        error: describeError(error),
        failures: state.failures,
      });
      return;
    }
    record(state, readings, at);
  };

  const snapshot = (state: State): SensorSnapshot => ({
    name,
    samples: state.samples,
    failures: state.failures,
    lastSampleAt: state.lastSampleAt,
    latest: state.history.latest()?.readings,
    history: state.history.toArray(),
    active: state.thresholds.active(),
    signals: state.signals.toArray(),
  });

  return {
    async init(_args, ctx) {
      // `stop` must run however the process ends (`kill` skips `terminate`): a monitor on itself fires then.
      ctx.runtime.monitor(ctx.self, () => sensor.stop?.(), { label: `sensor ${name}` });
      sensor.start?.(ctx.runtime.clock.now());
      if (scheduler !== undefined) await scheduler.every(ctx.self, o.intervalMs, SENSOR_TICK);
      return {
        samples: 0,
        failures: 0,
        lastSampleAt: undefined,
        history: new Ring<HistoryEntry>(o.historySize),
        signals: new Ring<SensorSignal>(o.signalHistorySize),
        thresholds: new ThresholdState(name, compiled),
      };
    },
    async handleInfo(msg, state, ctx) {
      if (msg === SENSOR_TICK || (msg as { type?: unknown } | null)?.type === SENSOR_TICK.type)
        await sampleNow(state, ctx);
      return state;
    },
    handleCast(msg: PushReadings, state, ctx) {
      if (msg?.op !== 'push') throw new Error(`sensor ${name}: unknown cast`);
      record(state, msg.readings, ctx.runtime.clock.now());
      return state;
    },
    async handleCall(msg: SensorCall, _from, state, ctx) {
      if (msg?.op === 'sample') await sampleNow(state, ctx);
      else if (msg?.op !== 'snapshot') throw new Error(`sensor ${name}: unknown call`);
      return { reply: snapshot(state), state };
    },
  };
}

/** Talks to a sensor's process by its registered name, so it keeps working across restarts. */
export interface SensorHandle {
  readonly name: string;
  /** The process's registered name. */
  readonly processName: string;
  /** The sensor's history, active signals and counters. */
  snapshot(): Promise<SensorSnapshot>;
  /** Takes a reading now (outside the schedule) and returns the snapshot after it. */
  sampleNow(): Promise<SensorSnapshot>;
  /** Records readings produced elsewhere (an event-driven sensor); thresholds apply as to any reading. */
  push(readings: Readings): Promise<void>;
}

const readingsSchema = z.record(z.string().min(1).max(200), z.number());

export function sensorHandle(runtime: Runtime, sensorName: string): SensorHandle {
  const processName = sensorProcessName(sensorName);
  return {
    name: sensorName,
    processName,
    snapshot: () => runtime.call<SensorSnapshot>(processName, { op: 'snapshot' } satisfies SensorCall),
    sampleNow: () => runtime.call<SensorSnapshot>(processName, { op: 'sample' } satisfies SensorCall),
    async push(readings) {
      const p = readingsSchema.safeParse(readings);
      if (!p.success) throw new ValidationError(`invalid readings: ${describeIssues(p.error.issues)}`);
      await runtime.cast(processName, { op: 'push', readings: p.data } satisfies PushReadings);
    },
  };
}

/** Starts a sensor's process on its own (not supervised) and returns its handle. */
export async function startSensor(runtime: Runtime, options: SensorProcessOptions): Promise<SensorHandle> {
  const behaviour = sensorBehaviour(options);
  await runtime.spawn(behaviour, undefined, { name: sensorProcessName(options.sensor.name) });
  return sensorHandle(runtime, options.sensor.name);
}

/** A child spec for a supervisor: the sensor restarts with a fresh history if its process dies. */
export function sensorChildSpec(runtime: Runtime, options: SensorProcessOptions): ChildSpec {
  const behaviour = sensorBehaviour(options);
  return {
    id: sensorProcessName(options.sensor.name),
    type: 'worker',
    restart: 'permanent',
    start: (o) =>
      runtime.spawn(behaviour, undefined, { link: o.link, name: sensorProcessName(options.sensor.name) }),
  };
}
