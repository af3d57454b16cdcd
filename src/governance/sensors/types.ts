/** Sensors: what they measure, the thresholds on their readings and the signals those raise. */
import type { GovernanceEvents, SignalLevel } from '../events.js';

/** One reading of a sensor: metric name → value (e.g. `memory.rss_bytes`, `agent.a1.error_rate`). */
export type Readings = Readonly<Record<string, number>>;

/**
 * Something that measures. A sensor runs inside its own process (see `startSensor`): `sample` is called on
 * each scheduler tick; `start` and `stop` bracket the process's life (every restart included).
 */
export interface Sensor {
  /** Names the sensor, its process (`garrison.sensor.<name>`) and its signals. */
  readonly name: string;
  /** Takes a reading at `now` (UNIX epoch ms, the runtime clock). A throw is counted; the sensor carries on. */
  sample(now: number): Readings | Promise<Readings>;
  /** Called when the sensor's process starts, before the first sample. */
  start?(now: number): void;
  /** Called when the sensor's process exits for any reason, `kill` included: release probes here. */
  stop?(): void;
}

/** A limit on a metric that raises a signal while crossed. Exactly one of `above` and `below`. */
export interface SensorThreshold {
  /** Names the threshold in its signals. Default: `<metric> > <above>` or `<metric> < <below>`. */
  readonly name?: string;
  /** The metric: an exact name, or a pattern where `*` matches any characters (`agent.*.error_rate`). */
  readonly metric: string;
  /** Crossed while the value is greater than this. */
  readonly above?: number;
  /** Crossed while the value is less than this. */
  readonly below?: number;
  /** Default `warning`. */
  readonly level?: SignalLevel;
  /** Consecutive crossed readings before the signal is raised (so one spike does not alert). Default 1. */
  readonly forSamples?: number;
}

/**
 * A threshold raised or cleared for one metric. It is cleared when a reading is back within the limit,
 * or when the metric is no longer reported (an agent that went quiet or away).
 */
export type SensorSignal = GovernanceEvents['sensor.signal'];

/** One entry of a sensor's bounded history. */
export interface HistoryEntry {
  /** UNIX epoch ms. */
  readonly at: number;
  readonly readings: Readings;
}

/** What a sensor's process knows. Kept in memory: a restarted sensor starts a new history. */
export interface SensorSnapshot {
  readonly name: string;
  /** Readings taken (ticks and pushes). */
  readonly samples: number;
  /** Samples that threw. */
  readonly failures: number;
  /** UNIX epoch ms of the last reading, if any. */
  readonly lastSampleAt: number | undefined;
  readonly latest: Readings | undefined;
  /** Oldest first, at most `historySize` entries. */
  readonly history: readonly HistoryEntry[];
  /** Signals raised and not cleared, one per threshold and metric. */
  readonly active: readonly SensorSignal[];
  /** The latest raise and clear signals, oldest first, at most `signalHistorySize`. */
  readonly signals: readonly SensorSignal[];
}
