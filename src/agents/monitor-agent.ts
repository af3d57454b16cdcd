/**
 * The seed's monitor agent: collects metrics periodically (an agent schedule, run by the scheduler
 * while the agent's process lives), compares them with thresholds, raises alerts (listed and
 * acknowledged), and keeps a bounded history. Thresholds, alerts and history are the agent's state, so
 * they are checkpointed with every collection and survive restarts.
 *
 *   const monitor = defineMonitorAgent({
 *     intervalMs: 30_000,
 *     thresholds: [{ metric: 'agents.unhealthy', op: 'gt', value: 0, level: 'critical' }],
 *   });
 *   await host.start(monitor, { id: 'monitor' });
 *   await host.call('monitor', 'alerts', { acknowledged: false });
 */
import { loadavg } from 'node:os';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { defineAction, withDirectives, type ActionContext } from './action.js';
import { defineAgent, type AgentDefinition } from './agent.js';
import { directive } from './directives.js';
import { AgentError, AgentErrorCode } from './errors.js';

const thresholdSchema = z
  .object({
    /** The metric's name, as the collector reports it. */
    metric: z.string().min(1).max(200),
    op: z.enum(['gt', 'gte', 'lt', 'lte']),
    value: z.number(),
    level: z.enum(['warning', 'critical']),
  })
  .strict();
export type Threshold = z.infer<typeof thresholdSchema>;

const alertSchema = z.object({
  id: z.string(),
  metric: z.string(),
  level: z.enum(['warning', 'critical']),
  op: z.enum(['gt', 'gte', 'lt', 'lte']),
  threshold: z.number(),
  /** The value that crossed the threshold. */
  value: z.number(),
  message: z.string(),
  /** UNIX epoch ms. */
  raisedAt: z.number().int(),
  acknowledgedAt: z.number().int().nullable(),
  acknowledgedBy: z.string().nullable(),
});
export type Alert = z.infer<typeof alertSchema>;

const metricsSchema = z.record(z.string(), z.number());
const sampleSchema = z.object({ at: z.number().int(), metrics: metricsSchema });
export type MetricSample = z.infer<typeof sampleSchema>;

const stateSchema = z.object({
  thresholds: z.array(thresholdSchema),
  history: z.array(sampleSchema),
  alerts: z.array(alertSchema),
  nextAlert: z.number().int().min(1),
});
export type MonitorState = z.infer<typeof stateSchema>;

/** Collects one sample of metrics: names to finite numbers. */
export type MetricCollector = (ctx: ActionContext<MonitorState>) => Promise<Record<string, number>>;

export interface MonitorAgentOptions {
  /** The agent type. Default `monitor`. */
  readonly type?: string;
  /** Default `['monitoring']`. */
  readonly capabilities?: readonly string[];
  /** How often metrics are collected, ms. Default 60,000. */
  readonly intervalMs?: number;
  /** Samples kept in the history, newest last. Default 100. */
  readonly historyLimit?: number;
  /** Alerts kept; past it the oldest acknowledged ones go first, then the oldest. Default 1000. */
  readonly alertLimit?: number;
  /** The thresholds a new monitor starts with (`set_thresholds` changes them). Default none. */
  readonly thresholds?: readonly Threshold[];
  /** The collector. Default `collectSystemMetrics`. */
  readonly collect?: MetricCollector;
}

/**
 * The default collector: the registry's agents by health (`agents.total`, `agents.healthy`,
 * `agents.degraded`, `agents.unhealthy`), this process's memory (`process.rss_bytes`,
 * `process.heap_used_bytes`) and the host's 1-minute load average (`system.load1`).
 */
export const collectSystemMetrics: MetricCollector = async (ctx) => {
  const health = await ctx.registry.healthSummary();
  const memory = process.memoryUsage();
  return {
    'agents.total': health.total,
    'agents.healthy': health.healthy,
    'agents.degraded': health.degraded,
    'agents.unhealthy': health.unhealthy,
    'process.rss_bytes': memory.rss,
    'process.heap_used_bytes': memory.heapUsed,
    'system.load1': loadavg()[0] ?? 0,
  };
};

function crossed(t: Threshold, value: number): boolean {
  if (t.op === 'gt') return value > t.value;
  if (t.op === 'gte') return value >= t.value;
  if (t.op === 'lt') return value < t.value;
  return value <= t.value;
}

const sameThreshold = (a: Alert, t: Threshold) =>
  a.metric === t.metric && a.op === t.op && a.threshold === t.value && a.level === t.level;

/** Keeps at most `limit` alerts: acknowledged ones go first, oldest first. */
function bound(alerts: Alert[], limit: number): Alert[] {
  let excess = alerts.length - limit;
  if (excess <= 0) return alerts;
  const kept = alerts.filter((a) => {
    if (excess > 0 && a.acknowledgedAt !== null) {
      excess--;
      return false;
    }
    return true;
  });
  return kept.slice(Math.max(0, kept.length - limit));
}

export function defineMonitorAgent(options: MonitorAgentOptions = {}): AgentDefinition<MonitorState> {
  const checked = z
    .object({
      intervalMs: z.number().int().min(1).default(60_000),
      historyLimit: z.number().int().min(1).max(100_000).default(100),
      alertLimit: z.number().int().min(1).max(100_000).default(1000),
      thresholds: z.array(thresholdSchema).default([]),
    })
    .safeParse({
      intervalMs: options.intervalMs,
      historyLimit: options.historyLimit,
      alertLimit: options.alertLimit,
      thresholds: options.thresholds,
    });
  if (!checked.success)
    throw new ValidationError(`invalid monitor agent options: ${describeIssues(checked.error.issues)}`);
  const settings = checked.data;
  const collect = options.collect ?? collectSystemMetrics;

  const collectAction = defineAction({
    name: 'collect',
    description: 'Collects a sample, records it, and raises alerts for crossed thresholds.',
    input: z.object({}),
    output: z.object({ metrics: metricsSchema, raised: z.array(alertSchema) }),
    run: async (ctx: ActionContext<MonitorState>) => {
      const metrics = metricsSchema.parse(await collect(ctx));
      const state = ctx.state;
      const raised: Alert[] = [];
      let next = state.nextAlert;
      for (const t of state.thresholds) {
        const value = metrics[t.metric];
        if (value === undefined || !crossed(t, value)) continue;
        // One open alert per threshold: a breach that goes on is not raised again until acknowledged.
        if (state.alerts.some((a) => a.acknowledgedAt === null && sameThreshold(a, t))) continue;
        raised.push({
          id: `alert-${next++}`,
          metric: t.metric,
          level: t.level,
          op: t.op,
          threshold: t.value,
          value,
          message: `${t.metric} is ${value} (${t.op} ${t.value})`,
          raisedAt: ctx.now,
          acknowledgedAt: null,
          acknowledgedBy: null,
        });
      }
      const history = [...state.history, { at: ctx.now, metrics }].slice(-settings.historyLimit);
      const alerts = bound([...state.alerts, ...raised], settings.alertLimit);
      return withDirectives(
        { metrics, raised },
        directive.setState({ ...state, history, alerts, nextAlert: next }),
        ...raised.map((a) => directive.emit('monitor.alert', a)),
      );
    },
  });

  const alertsAction = defineAction({
    name: 'alerts',
    description: 'Lists alerts, newest first; optionally only open or only acknowledged ones.',
    input: z.object({
      acknowledged: z.boolean().optional(),
      level: z.enum(['warning', 'critical']).optional(),
    }),
    output: z.object({ alerts: z.array(alertSchema) }),
    readOnly: true,
    run: (ctx: ActionContext<MonitorState>, { acknowledged, level }) => ({
      alerts: ctx.state.alerts
        .filter((a) => acknowledged === undefined || (a.acknowledgedAt !== null) === acknowledged)
        .filter((a) => level === undefined || a.level === level)
        .reverse(),
    }),
  });

  const acknowledge = defineAction({
    name: 'acknowledge',
    description: 'Acknowledges an alert (durably); acknowledging twice keeps the first.',
    input: z.object({ alertId: z.string().min(1), by: z.string().min(1).max(200).optional() }),
    output: alertSchema,
    run: (ctx: ActionContext<MonitorState>, { alertId, by }) => {
      const found = ctx.state.alerts.find((a) => a.id === alertId);
      if (found === undefined)
        throw new AgentError(AgentErrorCode.alertNotFound, `no alert has the id ${alertId}`, {
          details: { alertId },
        });
      if (found.acknowledgedAt !== null) return found;
      const acked: Alert = { ...found, acknowledgedAt: ctx.now, acknowledgedBy: by ?? null };
      const alerts = ctx.state.alerts.map((a) => (a.id === alertId ? acked : a));
      return withDirectives(acked, directive.setState({ ...ctx.state, alerts }));
    },
  });

  const historyAction = defineAction({
    name: 'history',
    description: 'The last samples, oldest first.',
    input: z.object({ limit: z.number().int().min(1).optional() }),
    output: z.object({ history: z.array(sampleSchema) }),
    readOnly: true,
    run: (ctx: ActionContext<MonitorState>, { limit }) => ({
      history: limit === undefined ? ctx.state.history : ctx.state.history.slice(-limit),
    }),
  });

  const setThresholds = defineAction({
    name: 'set_thresholds',
    description: 'Replaces the thresholds.',
    input: z.object({ thresholds: z.array(thresholdSchema) }),
    output: z.object({ thresholds: z.array(thresholdSchema) }),
    run: (ctx: ActionContext<MonitorState>, { thresholds }) =>
      withDirectives({ thresholds }, directive.setState({ ...ctx.state, thresholds })),
  });

  return defineAgent({
    type: options.type ?? 'monitor',
    capabilities: options.capabilities ?? ['monitoring'],
    state: stateSchema,
    initialState: { thresholds: settings.thresholds, history: [], alerts: [], nextAlert: 1 },
    actions: [collectAction, alertsAction, acknowledge, historyAction, setThresholds],
    schedules: [{ everyMs: settings.intervalMs, action: 'collect', input: {} }],
  });
}
