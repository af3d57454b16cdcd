/**
 * Threshold state: which (threshold, metric) pairs are crossed, for how many readings, and which are
 * raised. Only changes produce signals, so a metric that stays crossed alerts once, not on every tick.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import type { SignalLevel } from '../events.js';
import type { Readings, SensorSignal, SensorThreshold } from './types.js';

const thresholdSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    metric: z.string().min(1).max(200),
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
    level: z.enum(['warning', 'critical']).default('warning'),
    forSamples: z.number().int().min(1).default(1),
  })
  .refine((t) => (t.above === undefined) !== (t.below === undefined), {
    message: 'a threshold needs exactly one of above and below',
  });

interface Compiled {
  readonly name: string;
  readonly metric: string;
  readonly matches: (metric: string) => boolean;
  readonly crossed: (value: number) => boolean;
  readonly level: SignalLevel;
  readonly forSamples: number;
}

interface PairState {
  streak: number;
  raised: boolean;
  last: number;
  /** When it was raised, UNIX epoch ms. */
  raisedAt: number;
}

function matcher(pattern: string): (metric: string) => boolean {
  if (!pattern.includes('*')) return (metric) => metric === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (metric) => re.test(metric);
}

export function compileThresholds(thresholds: readonly SensorThreshold[]): Compiled[] {
  const names = new Set<string>();
  return thresholds.map((t, i) => {
    const p = thresholdSchema.safeParse(t);
    if (!p.success)
      throw new ValidationError(`invalid threshold at index ${i}: ${describeIssues(p.error.issues)}`);
    const { metric, above, below, level, forSamples } = p.data;
    const name = p.data.name ?? (above !== undefined ? `${metric} > ${above}` : `${metric} < ${below}`);
    if (names.has(name)) throw new ValidationError(`two thresholds are named ${name}`);
    names.add(name);
    const crossed = above !== undefined ? (v: number) => v > above : (v: number) => v < (below as number);
    return { name, metric, matches: matcher(metric), crossed, level, forSamples };
  });
}

/** Tracks every threshold over a sensor's readings. */
export class ThresholdState {
  private readonly pairs = new Map<string, PairState>();

  constructor(
    private readonly sensor: string,
    private readonly thresholds: readonly Compiled[],
  ) {}

  /** Applies one reading; returns the signals it raised or cleared, in threshold order. */
  apply(readings: Readings, at: number): SensorSignal[] {
    const out: SensorSignal[] = [];
    const seen = new Set<string>();
    for (const t of this.thresholds) {
      for (const [metric, value] of Object.entries(readings)) {
        if (!t.matches(metric) || !Number.isFinite(value)) continue;
        const key = `${t.name}\u0000${metric}`;
        seen.add(key);
        let s = this.pairs.get(key);
        if (t.crossed(value)) {
          s ??= { streak: 0, raised: false, last: value, raisedAt: at };
          this.pairs.set(key, s);
          s.streak++;
          s.last = value;
          if (!s.raised && s.streak >= t.forSamples) {
            s.raised = true;
            s.raisedAt = at;
            out.push(this.signal(t, metric, value, 'raised', at));
          }
        } else if (s !== undefined) {
          this.pairs.delete(key);
          if (s.raised) out.push(this.signal(t, metric, value, 'cleared', at));
        }
      }
    }
    // A metric no longer reported clears its signal and is forgotten: state stays bounded by the metrics
    // reported now, however many agents came and went.
    for (const [key, s] of this.pairs) {
      if (seen.has(key)) continue;
      this.pairs.delete(key);
      if (!s.raised) continue;
      const [name, metric] = key.split('\u0000') as [string, string];
      const t = this.thresholds.find((x) => x.name === name) as Compiled;
      out.push(this.signal(t, metric, s.last, 'cleared', at));
    }
    return out;
  }

  /** The raised signals now, each with the time it was raised and its latest value. */
  active(): SensorSignal[] {
    const out: SensorSignal[] = [];
    for (const [key, s] of this.pairs) {
      if (!s.raised) continue;
      const [name, metric] = key.split('\u0000') as [string, string];
      const t = this.thresholds.find((x) => x.name === name) as Compiled;
      out.push(this.signal(t, metric, s.last, 'raised', s.raisedAt));
    }
    return out;
  }

  private signal(
    t: Compiled,
    metric: string,
    value: number,
    state: 'raised' | 'cleared',
    at: number,
  ): SensorSignal {
    return { sensor: this.sensor, threshold: t.name, metric, level: t.level, state, value, at };
  }
}
