/**
 * A node's configuration: plain JSON-able settings, validated. The supervision tree's shape, strategies
 * and restart intensities are NOT configuration — they are fixed in `tree.ts`, identical in tests and in
 * production (seed flaw 6). Tests may change only the store, the clock and the node name.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../errors.js';
import { RESOURCE_KINDS, type ResourceKind } from '../governance/index.js';
import { DEFAULT_STORE_URL } from '../store/index.js';
import { retentionSchema } from './retention.js';

const ms = (min: number, max: number) => z.number().int().min(min).max(max);

export const nodeConfigSchema = z.strictObject({
  /** The store URL: `sqlite:<path>` or `postgres://…`. Default `sqlite:.garrison/garrison.db`. */
  store: z.string().min(1).default(DEFAULT_STORE_URL),
  /**
   * The application module the node runs (`garrison worker|serve|dev`): a path to a `.js`/`.mjs` file
   * (or `.ts` with tsx installed), relative to the configuration file. Default none.
   */
  app: z.string().min(1).max(4096).optional(),
  /** This node's id in the cluster. Default `<hostname>-<pid>`. */
  nodeName: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits, . _ : - (1 to 100)')
    .optional(),
  /** Heartbeat period of the node row, in ms. Default 2000. */
  heartbeatMs: ms(100, 60_000).default(2000),
  /** Silence after which other nodes count this one down, in ms. Default 15000. */
  downAfterMs: ms(500, 600_000).default(15_000),
  workflows: z
    .strictObject({
      /** Runs executing at once on this node; the rest wait durably (pending). Default 64. */
      maxConcurrent: z.number().int().min(1).max(10_000).default(64),
      /** Lease on a run, in ms. Default 30000. */
      leaseMs: ms(1000, 3_600_000).default(30_000),
    })
    .prefault({}),
  tasks: z
    .strictObject({
      /** Lease on an agent's task, in ms; renewed while it runs. Default 30000. */
      leaseMs: ms(1000, 3_600_000).default(30_000),
      /**
       * Most tasks waiting in one queue for an enqueue through `node.queues` (the HTTP API) to be
       * admitted; past it `queue_full` (HTTP 429). Approximate (see `admitEnqueues`). Default 100000.
       */
      maxQueued: z.number().int().min(1).max(100_000_000).default(100_000),
    })
    .prefault({}),
  /** How the node's task distributor spreads dispatched steps (docs/coordination.md, Task distributor). */
  distributor: z
    .strictObject({
      /** Whether queued steps move from busy agents of a capability to idle ones. Default true. */
      rebalance: z.boolean().default(true),
      /**
       * A queued step moves when its agent holds this many more tasks than the least loaded healthy
       * agent of the capability (at least 2, so that moves never reverse). Default 2.
       */
      rebalanceThreshold: z.number().int().min(2).max(1_000_000).default(2),
    })
    .prefault({}),
  /**
   * Resource limits of this node (heap and rss in bytes, the others in counts); the rest keep the
   * defaults of the resource manager (docs/governance.md). Past a limit, new agents and new workflow runs
   * are refused with `resource_exhausted`.
   */
  limits: z
    .partialRecord(z.enum(RESOURCE_KINDS as [ResourceKind, ...ResourceKind[]]), z.number().int().min(1))
    .optional(),
  /** How long finished work is kept (`retention.ts`): runs, tasks and dead letters 7 days by default. */
  retention: retentionSchema.prefault({}),
  /**
   * The monitor leak check, run with every health check tick (`heartbeatMs`): more than `maxPerProcess`
   * monitors older than `ageMs` on one process make the health check `monitors` degraded.
   */
  monitorLeaks: z
    .strictObject({
      /** Age from which a monitor counts, in ms. Default 300000. */
      ageMs: ms(0, 86_400_000).default(300_000),
      /** Old monitors one process may have before they count as a leak. Default 50. */
      maxPerProcess: z.number().int().min(1).max(1_000_000).default(50),
    })
    .prefault({}),
  /** How long a graceful stop waits for the tree to stop before killing what is left, in ms. Default 10000. */
  drainTimeoutMs: ms(0, 600_000).default(10_000),
  /**
   * The HTTP API of `garrison serve` (read by the command line, not by the node). Token files hold one
   * token each (surrounding whitespace trimmed); paths are relative to the configuration file.
   */
  api: z
    .strictObject({
      /** A file with the admin token (every route). Default none. */
      tokenFile: z.string().min(1).max(4096).optional(),
      /** A file with a read-only token (GET routes only). Default none. */
      readTokenFile: z.string().min(1).max(4096).optional(),
      /** Host names requests may name besides loopback names and IP literals. Default none. */
      allowedHosts: z.array(z.string().min(1).max(253)).max(1000).optional(),
    })
    .optional(),
  /**
   * Trace export of `garrison worker|serve|dev` (read by the command line, not by the node):
   * `otlp` is the OTLP/HTTP traces endpoint (`--otlp` wins). Default none: no SDK is loaded.
   */
  telemetry: z
    .strictObject({
      otlp: z
        .string()
        .max(4096)
        .regex(/^https?:\/\/\S+$/, 'an http:// or https:// URL')
        .optional(),
    })
    .optional(),
});

export type NodeConfigInput = z.input<typeof nodeConfigSchema>;
export type NodeConfig = z.output<typeof nodeConfigSchema> & { readonly nodeName: string };

/** Validates a configuration; throws `invalid_input` naming every bad field. */
export function parseNodeConfig(input: unknown): NodeConfig {
  const parsed = nodeConfigSchema.safeParse(input ?? {});
  if (!parsed.success)
    throw new ValidationError(`invalid node configuration: ${describeIssues(parsed.error.issues)}`);
  return { ...parsed.data, nodeName: parsed.data.nodeName ?? `${hostname()}-${process.pid}` };
}
