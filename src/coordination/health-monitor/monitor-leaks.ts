/**
 * The monitor leak check, run on the health monitor's tick. Every node holds long-lived monitors by
 * design (a supervisor on each child, the scheduler on each timer owner, a host on each agent), so age
 * alone is no leak; a leak is monitors piling up: more than `maxPerProcess` older than `ageMs` on one
 * process. Each new one found is emitted as `monitor.leak`, and the health check `monitors` is degraded,
 * with the process and the watchers named, while the last check found any.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { MonitorInfo, Runtime } from '../../runtime/index.js';
import { emitTo, type EventSink, type GarrisonEvents } from '../../telemetry/index.js';

export interface MonitorLeakOptions {
  readonly runtime: Runtime;
  /** A monitor counts once it is this old, in ms (runtime clock). Default 300000. */
  readonly ageMs?: number;
  /** Old monitors one process may have before they count as a leak. Default 50. */
  readonly maxPerProcess?: number;
  /** Where `monitor.leak` goes, once per leaking monitor. Default none. */
  readonly events?: EventSink<Pick<GarrisonEvents, 'monitor.leak'>>;
}

/** One process with too many old monitors on it. */
export interface MonitorLeak {
  /** The monitored process. */
  readonly target: string;
  /** Monitors older than `ageMs` on it. */
  readonly count: number;
  /** The oldest one's age, ms. */
  readonly oldestAgeMs: number;
  /** Who watches (pids or callback labels), most frequent first, at most 5. */
  readonly watchers: readonly string[];
}

export interface MonitorLeakWatch {
  /** Looks now; answers (and keeps, for the health check) the processes found leaking. */
  check(): MonitorLeak[];
  /** What the last `check` found. */
  last(): readonly MonitorLeak[];
}

const optionsSchema = z.object({
  ageMs: z.number().int().min(0).default(300_000),
  maxPerProcess: z.number().int().min(1).default(50),
});

export function createMonitorLeakWatch(options: MonitorLeakOptions): MonitorLeakWatch {
  const parsed = optionsSchema.safeParse({ ageMs: options.ageMs, maxPerProcess: options.maxPerProcess });
  if (!parsed.success)
    throw new ValidationError(`invalid monitor leak options: ${describeIssues(parsed.error.issues)}`);
  const { ageMs, maxPerProcess } = parsed.data;
  let found: MonitorLeak[] = [];
  /** Monitors already emitted, so a lasting leak is reported once per monitor, not once per tick. */
  let reported = new Set<number>();
  return {
    check() {
      const byTarget = new Map<string, MonitorInfo[]>();
      for (const m of options.runtime.monitorsOlderThan(ageMs)) {
        const key = m.target.toString();
        const list = byTarget.get(key);
        if (list === undefined) byTarget.set(key, [m]);
        else list.push(m);
      }
      const leaks: MonitorLeak[] = [];
      const seen = new Set<number>();
      for (const [target, monitors] of byTarget) {
        if (monitors.length <= maxPerProcess) continue;
        const watchers = new Map<string, number>();
        for (const m of monitors) {
          const w = m.watcher.toString();
          watchers.set(w, (watchers.get(w) ?? 0) + 1);
          seen.add(m.id);
          if (!reported.has(m.id))
            emitTo(options.events, 'monitor.leak', { monitorId: m.id, target, watcher: w, ageMs: m.ageMs });
        }
        leaks.push({
          target,
          count: monitors.length,
          oldestAgeMs: Math.max(...monitors.map((m) => m.ageMs)),
          watchers: [...watchers.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 5)
            .map(([w]) => w),
        });
      }
      reported = seen;
      found = leaks.sort((a, b) => b.count - a.count);
      return found;
    },
    last: () => found,
  };
}

/**
 * The health check `monitors`: degraded (not critical: a leak costs memory, not correctness yet) while
 * the last leak check found a process with monitors piling up on it.
 */
export function monitorLeaksCheck(watch: MonitorLeakWatch) {
  return {
    name: 'monitors',
    critical: false,
    check: () => {
      const leaks = watch.last();
      const first = leaks[0];
      if (first === undefined) return undefined;
      const more = leaks.length > 1 ? ` (and ${leaks.length - 1} more processes)` : '';
      return {
        status: 'degraded' as const,
        reason:
          `monitor leak: ${first.count} old monitors pile up on process ${first.target}, the oldest ` +
          `${Math.round(first.oldestAgeMs / 1000)} s old (watchers: ${first.watchers.join(', ')}): ` +
          `monitors taken and never released${more}`,
        details: { leaks },
      };
    },
  };
}
