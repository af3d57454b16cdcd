/**
 * `GET /v1/metrics/summary`: the coordination figures (runs by status, steps, dispatched tasks, task
 * queues — read from the store, so they hold across restarts and nodes) and this process's telemetry
 * counters added up over their labels.
 */
import { readCoordinationSnapshot, type CoordinationSnapshot } from '../coordination/index.js';
import type { ApiContext } from './context.js';

export interface MetricsSummary extends CoordinationSnapshot {
  /** Each counter and gauge of this process summed over its labels; each histogram's count. */
  readonly telemetry: Readonly<Record<string, number>>;
  /** Figures the node adds (its id, the distributor's counters, …), when it gives any. */
  readonly node?: Readonly<Record<string, unknown>>;
}

interface MetricJson {
  readonly name: string;
  readonly type: string;
  readonly values: ReadonlyArray<{ readonly value: number; readonly metricName?: string }>;
}

async function telemetryTotals(ctx: ApiContext): Promise<Record<string, number>> {
  const all = (await ctx.metrics.registry.getMetricsAsJSON()) as unknown as MetricJson[];
  const totals = Object.create(null) as Record<string, number>; // keyed by metric names
  for (const m of all) {
    const values =
      m.type === 'histogram' || m.type === 'summary'
        ? m.values.filter((v) => v.metricName === `${m.name}_count`)
        : m.values;
    totals[m.name] = values.reduce((sum, v) => sum + (Number.isFinite(v.value) ? v.value : 0), 0);
  }
  return totals;
}

export async function metricsSummary(ctx: ApiContext): Promise<MetricsSummary> {
  const [coordination, telemetry] = await Promise.all([
    ctx.coordination?.() ?? readCoordinationSnapshot(ctx.store, { now: ctx.clock.now() }),
    telemetryTotals(ctx),
  ]);
  const node = ctx.extraSummary?.();
  return { ...coordination, telemetry, ...(node === undefined ? {} : { node }) };
}
