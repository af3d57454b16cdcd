/**
 * Resource kinds, their default limits and the resource manager's options. The defaults keep a node on a
 * 2-core machine with about 2 GiB of memory healthy; docs/governance.md explains each number.
 */
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import type { Clock, Runtime } from '../../runtime/index.js';
import type { GovernanceEventSink } from '../events.js';

/** What a node limits. */
export const ResourceKind = {
  /** V8 heap in use, bytes (measured). */
  heapBytes: 'heap_bytes',
  /** Resident set size of the Node process, bytes (measured). */
  rssBytes: 'rss_bytes',
  /** Live runtime processes (measured from the runtime when one is given). */
  processes: 'processes',
  /** Agents hosted by this node (one token per agent, held by its process). */
  agents: 'agents',
  /** Task and workflow leases this node holds (one token per lease). */
  leases: 'leases',
  /** Messages waiting in all mailboxes together (measured from the runtime when one is given). */
  mailboxMessages: 'mailbox_messages',
  /** Store connections open (one token per connection). */
  storeConnections: 'store_connections',
} as const;
export type ResourceKind = (typeof ResourceKind)[keyof typeof ResourceKind];

export const RESOURCE_KINDS: readonly ResourceKind[] = Object.values(ResourceKind);

const MiB = 1024 * 1024;

/** The limit of every kind. */
export type ResourceLimits = Readonly<Record<ResourceKind, number>>;

/**
 * The default limits. `heap_bytes` is 384 MiB, or 75% of V8's own heap limit when that is lower (a node
 * started with a small `--max-old-space-size`), so work is refused well before V8 aborts the process.
 */
export function defaultLimits(): ResourceLimits {
  const v8Limit = getHeapStatistics().heap_size_limit;
  return {
    heap_bytes: Math.min(384 * MiB, Math.floor(v8Limit * 0.75)),
    rss_bytes: 768 * MiB,
    processes: 20_000,
    agents: 500,
    leases: 256,
    mailbox_messages: 100_000,
    store_connections: 10,
  };
}

/** Reads a measured kind's current value (bytes, processes, messages). Must be cheap and must not throw. */
export type Gauge = () => number;

export interface ResourceManagerOptions {
  /** Limits to change; the others keep their defaults (see `defaultLimits`). Each an integer ≥ 1. */
  readonly limits?: Partial<Record<ResourceKind, number>>;
  /** Usage ratio (0 < r ≤ 1) at which a kind raises a `resource.alert`. Default 0.9. */
  readonly alertRatio?: number;
  /**
   * How far below `alertRatio` usage must fall before the alert clears (so usage hovering at the line
   * does not flap), as a ratio of the limit. Default 0.05.
   */
  readonly hysteresis?: number;
  /**
   * The runtime whose processes hold tokens: a token acquired for an `owner` process is released when that
   * process exits. Also the default gauge of `processes` (`processCount`) and `mailbox_messages` (the sum of
   * mailbox sizes). Default none: owners cannot be given and those kinds count tokens only.
   */
  readonly runtime?: Runtime;
  /**
   * Gauges by kind, replacing the defaults (`process.memoryUsage` for the memory kinds, the runtime for
   * processes and mailboxes). A kind's usage is its gauge plus the amounts its tokens hold.
   */
  readonly gauges?: Partial<Record<ResourceKind, Gauge>>;
  /**
   * How long a gauge reading is reused before it is read again, ms (≥ 0). Default 1000. The runtime's
   * process count is read afresh every time (it costs nothing), so a burst of spawns cannot overshoot.
   */
  readonly gaugeTtlMs?: number;
  /** How often each kind's `resource.refused` event is reported at most, ms (≥ 1). Default 10 000. */
  readonly refusedEventIntervalMs?: number;
  /** Time source (gauge freshness, token times). Default: the runtime's clock, else the system clock. */
  readonly clock?: Clock;
  /** Where alert, recovery and refusal events go. Default none. */
  readonly events?: GovernanceEventSink;
}

const limitValue = z.number().int().min(1);

const optionsSchema = z.strictObject({
  limits: z
    .strictObject(Object.fromEntries(RESOURCE_KINDS.map((k) => [k, limitValue.optional()])))
    .optional(),
  alertRatio: z.number().gt(0).max(1).default(0.9),
  hysteresis: z.number().min(0).lt(1).default(0.05),
  gaugeTtlMs: z.number().int().min(0).default(1000),
  refusedEventIntervalMs: z.number().int().min(1).default(10_000),
  gauges: z
    .strictObject(
      Object.fromEntries(
        RESOURCE_KINDS.map((k) => [
          k,
          z
            .custom<Gauge>((v) => typeof v === 'function', { message: 'a gauge must be a function' })
            .optional(),
        ]),
      ),
    )
    .optional(),
  runtime: z.unknown().optional(),
  clock: z.unknown().optional(),
  events: z.unknown().optional(),
});

export interface ParsedResourceOptions {
  readonly limits: ResourceLimits;
  readonly alertRatio: number;
  readonly hysteresis: number;
  readonly gaugeTtlMs: number;
  readonly refusedEventIntervalMs: number;
}

export function parseResourceOptions(options: ResourceManagerOptions): ParsedResourceOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid resource manager options: ${describeIssues(parsed.error.issues)}`);
  const given = (parsed.data.limits ?? {}) as Partial<Record<ResourceKind, number>>;
  const limits: Record<ResourceKind, number> = { ...defaultLimits() };
  for (const kind of RESOURCE_KINDS) {
    const value = given[kind];
    if (value !== undefined) limits[kind] = value;
  }
  return {
    limits,
    alertRatio: parsed.data.alertRatio,
    hysteresis: parsed.data.hysteresis,
    gaugeTtlMs: parsed.data.gaugeTtlMs,
    refusedEventIntervalMs: parsed.data.refusedEventIntervalMs,
  };
}

/** The default gauges: memory from the Node process, processes and mailboxes from the runtime. */
export function defaultGauges(runtime: Runtime | undefined): Partial<Record<ResourceKind, Gauge>> {
  const gauges: Partial<Record<ResourceKind, Gauge>> = {
    heap_bytes: () => process.memoryUsage().heapUsed,
    // `rss()` alone is much cheaper than the full `memoryUsage()` (no heap walk).
    rss_bytes: () => process.memoryUsage.rss(),
  };
  if (runtime !== undefined) {
    gauges.processes = () => runtime.processCount;
    gauges.mailbox_messages = () => {
      let total = 0;
      for (const pid of runtime.pids()) total += runtime.info(pid)?.mailboxSize ?? 0;
      return total;
    };
  }
  return gauges;
}
