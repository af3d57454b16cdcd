/**
 * The history checker of the fault tests, after Jepsen's queue checker. A test records what it asked
 * for (tasks enqueued, workflows started), what it was told (acknowledgements), what it observed
 * (effects, acknowledged completions) and what the store holds in the end; the checker classifies every
 * item:
 *
 * - `ok`: asked, and its outcome is there exactly once (after deduplication by idempotency key where
 *   the guarantee allows duplicates);
 * - `lost`: acknowledged, but its outcome is missing;
 * - `duplicated`: its outcome is there more than once (after deduplication, where allowed);
 * - `unexpected`: an outcome of something nobody asked for.
 *
 * An item asked for but never acknowledged (the asker crashed or got an error) may or may not have
 * happened; when it did it is `ok` (Jepsen's "recovered"), when it did not it is nothing.
 * Invariants that are not about single items (a task run again after its acknowledgement, two valid
 * leases at once, step N+1 before step N) are recorded as violations. Pass: lost = 0, unexpected = 0,
 * duplicated = 0, violations = 0.
 */
import { expect } from 'vitest';

export const Verdict = {
  ok: 'ok',
  lost: 'lost',
  duplicated: 'duplicated',
  unexpected: 'unexpected',
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * What must be there for an acknowledged item not to be lost: an observed outcome (an effect, an
 * acknowledged completion), the store's final record of it, or both.
 */
export type Evidence = 'observed' | 'held' | 'both';

export interface CheckOptions {
  readonly evidence: Evidence;
  /**
   * `forbidden`: an item observed twice is duplicated. `deduplicated`: observations are first collapsed
   * by their idempotency key (at-least-once effects); only distinct keys for one item count twice.
   */
  readonly duplicates: 'forbidden' | 'deduplicated';
}

interface Item {
  asked: boolean;
  acknowledged: boolean;
  held: number;
  observed: number;
  keys: Set<string>;
}

export interface HistoryReport {
  readonly name: string;
  /** Items asked for. */
  readonly items: number;
  readonly ok: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly unexpected: number;
  /** Asked, not acknowledged, and there anyway. */
  readonly recovered: number;
  /** Observations beyond one per item before deduplication (at-least-once re-runs). */
  readonly rawDuplicates: number;
  readonly faults: number;
  readonly faultsByKind: Readonly<Record<string, number>>;
  readonly violations: Readonly<Record<string, number>>;
  /** Up to five keys of each bad verdict and violation, for the failure message. */
  readonly examples: Readonly<Record<string, readonly string[]>>;
  readonly durationMs: number;
  /** Extra figures a test wants on its summary line. */
  readonly figures: Readonly<Record<string, number | string>>;
}

export class History {
  private readonly items = new Map<string, Item>();
  private readonly faultKinds = new Map<string, number>();
  private readonly violationKinds = new Map<string, string[]>();
  private readonly extra: Record<string, number | string> = {};
  private readonly startedAt = Date.now();

  constructor(readonly name: string) {}

  private item(key: string): Item {
    let item = this.items.get(key);
    if (item === undefined) {
      item = { asked: false, acknowledged: false, held: 0, observed: 0, keys: new Set() };
      this.items.set(key, item);
    }
    return item;
  }

  /** The test asked for `key` (before it was told anything). */
  ask(key: string): void {
    this.item(key).asked = true;
  }

  /** The system acknowledged `key`: from now on it must not be lost. */
  acknowledge(key: string): void {
    this.item(key).acknowledged = true;
  }

  /**
   * An outcome of `key` was observed (an effect ran, a completion was acknowledged). `idempotencyKey`
   * is the key the effect carried, for deduplication; omitted, each observation counts on its own.
   */
  observe(key: string, idempotencyKey?: string): void {
    const item = this.item(key);
    item.observed++;
    item.keys.add(idempotencyKey ?? `#${item.observed}`);
  }

  /** The store holds the final outcome of `key` (a completed task, a journaled step). */
  hold(key: string): void {
    this.item(key).held++;
  }

  /** A fault was injected. */
  fault(kind: string, count = 1): void {
    this.faultKinds.set(kind, (this.faultKinds.get(kind) ?? 0) + count);
  }

  /** Declares an invariant kind with no breach yet, so the summary shows its zero. */
  watch(kind: string): void {
    if (!this.violationKinds.has(kind)) this.violationKinds.set(kind, []);
  }

  /** An invariant broke. */
  violation(kind: string, detail: string): void {
    this.watch(kind);
    this.violationKinds.get(kind)!.push(detail);
  }

  /** A figure for the summary line (items per second, fault mechanism, …). */
  figure(name: string, value: number | string): void {
    this.extra[name] = value;
  }

  check(options: CheckOptions): HistoryReport {
    const counts = { ok: 0, lost: 0, duplicated: 0, unexpected: 0, recovered: 0 };
    const examples: Record<string, string[]> = {};
    const example = (kind: string, key: string) => {
      const list = (examples[kind] ??= []);
      if (list.length < 5) list.push(key);
    };
    let rawDuplicates = 0;
    let asked = 0;
    for (const [key, item] of this.items) {
      if (item.asked) asked++;
      rawDuplicates += Math.max(0, item.observed - 1);
      const seen =
        options.evidence === 'observed'
          ? item.observed > 0
          : options.evidence === 'held'
            ? item.held > 0
            : item.observed > 0 && item.held > 0;
      const present = item.observed > 0 || item.held > 0;
      const times = options.duplicates === 'forbidden' ? item.observed : item.keys.size;
      let verdict: Verdict | 'absent';
      if (!item.asked) verdict = present ? 'unexpected' : 'absent';
      else if (times > 1 || item.held > 1) verdict = 'duplicated';
      else if (seen) verdict = 'ok';
      else if (item.acknowledged) verdict = 'lost';
      else verdict = 'absent';
      if (verdict === 'absent') continue;
      counts[verdict]++;
      if (verdict === 'ok' && !item.acknowledged) counts.recovered++;
      if (verdict !== 'ok') example(verdict, key);
    }
    const violations: Record<string, number> = {};
    for (const [kind, details] of this.violationKinds) {
      violations[kind] = details.length;
      if (details.length > 0) examples[kind] = details.slice(0, 5);
    }
    const faultsByKind = Object.fromEntries(this.faultKinds);
    return {
      name: this.name,
      items: asked,
      ...counts,
      rawDuplicates,
      faults: [...this.faultKinds.values()].reduce((a, b) => a + b, 0),
      faultsByKind,
      violations,
      examples,
      durationMs: Date.now() - this.startedAt,
      figures: { ...this.extra },
    };
  }
}

/** The one-line figure summary of a report, as printed in the test output. */
export function summaryLine(report: HistoryReport): string {
  const faults = Object.entries(report.faultsByKind)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const parts = [
    `items ${report.items}`,
    `faults ${report.faults}${faults === '' ? '' : ` (${faults})`}`,
    `lost ${report.lost}`,
    `duplicated ${report.duplicated} (re-runs deduplicated ${report.rawDuplicates})`,
    `unexpected ${report.unexpected}`,
    ...Object.entries(report.violations).map(([kind, n]) => `${kind} ${n}`),
    ...Object.entries(report.figures).map(([name, value]) => `${name} ${value}`),
    `${(report.durationMs / 1000).toFixed(1)} s`,
  ];
  return `[chaos] ${report.name}: ${parts.join(', ')}`;
}

/** Prints the summary line and fails the test unless the history passes. */
export function expectClean(report: HistoryReport): void {
  console.log(summaryLine(report));
  const bad = {
    lost: report.lost,
    duplicated: report.duplicated,
    unexpected: report.unexpected,
    ...report.violations,
  };
  const clean = Object.fromEntries(Object.keys(bad).map((k) => [k, 0]));
  expect({ counts: bad, examples: report.examples }).toEqual({ counts: clean, examples: {} });
}
