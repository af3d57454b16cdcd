/**
 * The metrics collector: a process that answers `snapshot()` with the coordination metrics read from
 * the store (see `snapshot.ts`). It keeps no count of its own, so a crash or a restart of anything —
 * itself included — changes no figure. Concurrent requests share one read; with `maxAgeMs`, a recent
 * snapshot is answered without reading again. With `metrics`, Prometheus gauges are refreshed from a
 * snapshot before each scrape.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { Behaviour, CallResult, ChildSpec, From, Runtime } from '../../runtime/index.js';
import { isRuntimeError } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { Metrics } from '../../telemetry/index.js';
import { coordinationGauges } from './prometheus.js';
import { readCoordinationSnapshot, type CoordinationSnapshot } from './snapshot.js';

export interface MetricsCollectorOptions {
  readonly runtime: Runtime;
  readonly store: Store;
  /** The registered name of its process; unique within a runtime. Default `coordination.metrics`. */
  readonly name?: string;
  /** Only runs and tasks created within this many ms before now count, in ms. Default: all. */
  readonly windowMs?: number;
  /** A snapshot at most this old (runtime clock, ms) is answered without reading the store. Default 0. */
  readonly maxAgeMs?: number;
  /** How long `snapshot()` waits for the process, in ms. Default 30000. */
  readonly timeoutMs?: number;
  /** Registers `coordination_*` gauges here, refreshed before each `render`. Default: none. */
  readonly metrics?: Metrics;
  /** Receives errors no caller waits for (a failed refresh before a scrape). Default: a process warning. */
  readonly onError?: (error: unknown) => void;
}

const optionsSchema = z
  .object({
    name: z.string().min(1).max(200).default('coordination.metrics'),
    windowMs: z.number().int().min(1).optional(),
    maxAgeMs: z.number().int().min(0).default(0),
    timeoutMs: z.number().int().min(1).default(30_000),
  })
  .strip();

type Answer = { ok: true; snapshot: CoordinationSnapshot } | { ok: false; error: unknown };

const SNAPSHOT = Symbol('snapshot');

class Computed {
  constructor(readonly answer: Answer) {}
}

interface CollectorArgs {
  readonly store: Store;
  readonly report: (error: unknown) => void;
  readonly windowMs: number | undefined;
  readonly maxAgeMs: number;
}

interface CollectorState extends CollectorArgs {
  last: CoordinationSnapshot | undefined;
  /** Callers waiting for the read in progress (none: no read in progress). */
  waiting: Array<From<Answer>> | undefined;
}

const collectorBehaviour: Behaviour<CollectorState, CollectorArgs> = {
  init(args) {
    return { ...args, last: undefined, waiting: undefined };
  },

  handleCall(msg, from, state, ctx): CallResult<CollectorState> {
    if (msg !== SNAPSHOT) throw new ValidationError('the metrics collector answers snapshot requests only');
    const now = ctx.runtime.clock.now();
    if (state.last !== undefined && now - state.last.at <= state.maxAgeMs && state.maxAgeMs > 0) {
      return { reply: { ok: true, snapshot: state.last } satisfies Answer, state };
    }
    if (state.waiting !== undefined) {
      state.waiting.push(from);
      return { noreply: true, state };
    }
    state.waiting = [from];
    const since = state.windowMs === undefined ? undefined : now - state.windowMs;
    // Read outside the handler: the process keeps taking requests, which join this read.
    readCoordinationSnapshot(state.store, { now, since })
      .then(
        (snapshot) => ctx.runtime.send(ctx.self, new Computed({ ok: true, snapshot })),
        (error: unknown) => ctx.runtime.send(ctx.self, new Computed({ ok: false, error })),
      )
      .catch((error: unknown) => {
        // `noproc`: the collector exited; its callers were told through their call monitors.
        if (!isRuntimeError(error, 'noproc')) state.report(error);
      });
    return { noreply: true, state };
  },

  handleInfo(msg, state) {
    if (!(msg instanceof Computed)) return state;
    if (msg.answer.ok) state.last = msg.answer.snapshot;
    for (const from of state.waiting ?? []) from.reply(msg.answer);
    state.waiting = undefined;
    return state;
  },
};

/** Creates a metrics collector; its process runs once started (`start`, or `childSpec` in a tree). */
export function createMetricsCollector(options: MetricsCollectorOptions): MetricsCollector {
  return new MetricsCollector(options);
}

export class MetricsCollector {
  readonly name: string;
  private readonly runtime: Runtime;
  private readonly args: CollectorArgs;
  private readonly timeoutMs: number;
  private readonly unhook: (() => void) | undefined;

  constructor(options: MetricsCollectorOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new ValidationError(`invalid metrics collector options: ${describeIssues(parsed.error.issues)}`);
    }
    this.name = parsed.data.name;
    this.runtime = options.runtime;
    this.timeoutMs = parsed.data.timeoutMs;
    const report =
      options.onError ??
      ((error: unknown) => process.emitWarning(`metrics collector: ${String(error)}`, 'GarrisonWarning'));
    this.args = {
      store: options.store,
      report,
      windowMs: parsed.data.windowMs,
      maxAgeMs: parsed.data.maxAgeMs,
    };
    const metrics = options.metrics;
    if (metrics !== undefined) {
      const gauges = coordinationGauges(metrics);
      // A failed refresh leaves the previous values and is reported; the scrape still answers.
      this.unhook = metrics.beforeRender(() =>
        this.snapshot().then((snapshot) => gauges.set(snapshot), report),
      );
    }
  }

  /** Starts the collector's process as a root process of the runtime. */
  async start(): Promise<void> {
    await this.runtime.spawn(collectorBehaviour, this.args, { name: this.name });
  }

  /** The collector as a child of a supervisor. */
  childSpec(): ChildSpec {
    return {
      id: this.name,
      start: (o) => this.runtime.spawn(collectorBehaviour, this.args, { ...o, name: this.name }),
    };
  }

  /**
   * The coordination metrics, read from the store (or a snapshot at most `maxAgeMs` old). Fails with the
   * store's error, or `noproc` / `call_timeout` from the runtime when the collector is not there.
   */
  async snapshot(): Promise<CoordinationSnapshot> {
    const answer = await this.runtime.call<Answer>(this.name, SNAPSHOT, { timeoutMs: this.timeoutMs });
    if (!answer.ok) throw answer.error;
    return answer.snapshot;
  }

  /** Stops the process (when it runs) and unregisters the gauges' refresh. */
  async stop(): Promise<void> {
    this.unhook?.();
    if (this.runtime.isAlive(this.name)) await this.runtime.stop(this.name, 'shutdown');
  }
}
