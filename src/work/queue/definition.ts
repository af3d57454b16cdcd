/**
 * `defineQueue`: a queue's name, payload schema, limits and retry policy, declared once in code and
 * shared by the clients that enqueue and the workers that claim.
 */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';

/** At most `limit` tasks started per `intervalMs` (a token bucket holding `limit` tokens). */
export interface RateLimit {
  /** Tasks per interval; also the burst size. A positive integer. */
  readonly limit: number;
  /** The interval, in ms. */
  readonly intervalMs: number;
}

/** Exponential backoff with jitter between failed attempts. */
export interface Backoff {
  /** Delay before the first retry, in ms. Default 1000. */
  readonly initialMs?: number;
  /** Each further retry waits this many times longer. Default 2. */
  readonly factor?: number;
  /** The longest delay, in ms. Default 3,600,000 (one hour). */
  readonly maxMs?: number;
  /** Spread: each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. 0–1; default 0.2. */
  readonly jitter?: number;
}

export interface QueueSettings<S extends z.ZodType = z.ZodType> {
  /** The queue's name: 1–200 characters of letters, digits, `_ . : -`. */
  readonly name: string;
  /** Payloads are validated (and transformed) with it at enqueue; an invalid one is refused, nothing written. */
  readonly schema?: S;
  /**
   * Most tasks of this queue running at once, over every worker and process (enforced in the claim).
   * Default unlimited.
   */
  readonly concurrency?: number;
  /** Most tasks of one group key running at once, over every worker and process. Default unlimited. */
  readonly groupConcurrency?: number;
  /** Most tasks of this queue started per interval, over every worker and process. Default unlimited. */
  readonly rateLimit?: RateLimit;
  /** Most tasks of one group key started per interval, over every worker and process. Default unlimited. */
  readonly groupRateLimit?: RateLimit;
  /** Attempts before a task goes to the dead letters, unless its enqueue says otherwise. Default 5. */
  readonly maxAttempts?: number;
  /** Delays between attempts. */
  readonly backoff?: Backoff;
  /**
   * Keep completed tasks (state `completed`) for inspection until `purgeFinished` removes them. Default
   * false: a completed task is deleted in the completion itself, which is what makes draining fast.
   * Tasks with an idempotency key are always kept, so that the key goes on deduplicating.
   */
  readonly keepCompleted?: boolean;
}

export interface QueueDefinition<P = unknown, I = P> {
  readonly name: string;
  readonly concurrency: number | undefined;
  readonly groupConcurrency: number | undefined;
  readonly rateLimit: RateLimit | undefined;
  readonly groupRateLimit: RateLimit | undefined;
  readonly maxAttempts: number;
  readonly backoff: Required<Backoff>;
  readonly keepCompleted: boolean;
  /** True when a claim must respect a concurrency or rate limit. */
  readonly limited: boolean;
  /** Validates a payload; throws `ValidationError` naming the queue and the fields. */
  parse(payload: I): P;
  /** The delay before retry number `attempt` (the attempt that failed, from 1), in ms. */
  retryDelay(attempt: number, random: () => number): number;
}

export const queueNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');

const rateLimitSchema = z
  .object({ limit: z.number().int().min(1), intervalMs: z.number().int().min(1) })
  .strict();

const settingsSchema = z
  .object({
    name: queueNameSchema,
    schema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema').optional(),
    concurrency: z.number().int().min(1).optional(),
    groupConcurrency: z.number().int().min(1).optional(),
    rateLimit: rateLimitSchema.optional(),
    groupRateLimit: rateLimitSchema.optional(),
    maxAttempts: z.number().int().min(1).max(1000).default(5),
    backoff: z
      .object({
        initialMs: z.number().min(0).default(1000),
        factor: z.number().min(1).default(2),
        maxMs: z.number().min(0).default(3_600_000),
        jitter: z.number().min(0).max(1).default(0.2),
      })
      .strict()
      .default({ initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2 }),
    keepCompleted: z.boolean().default(false),
  })
  .strict();

/** Declares a queue. The payload type comes from `schema` when one is given. */
export function defineQueue<S extends z.ZodType = z.ZodType<unknown>>(
  settings: QueueSettings<S>,
): QueueDefinition<z.output<S>, z.input<S>> {
  const parsed = settingsSchema.safeParse(settings);
  if (!parsed.success) {
    throw new ValidationError(`invalid queue definition: ${describeIssues(parsed.error.issues)}`, {
      issues: parsed.error.issues,
    });
  }
  const s = parsed.data;
  const schema = settings.schema;
  const backoff: Required<Backoff> = s.backoff;
  return {
    name: s.name,
    concurrency: s.concurrency,
    groupConcurrency: s.groupConcurrency,
    rateLimit: s.rateLimit,
    groupRateLimit: s.groupRateLimit,
    maxAttempts: s.maxAttempts,
    backoff,
    keepCompleted: s.keepCompleted,
    limited:
      s.concurrency !== undefined ||
      s.groupConcurrency !== undefined ||
      s.rateLimit !== undefined ||
      s.groupRateLimit !== undefined,
    parse(payload) {
      if (schema === undefined) return payload as z.output<S>;
      const result = schema.safeParse(payload);
      if (result.success) return result.data;
      throw new ValidationError(
        `invalid payload for queue "${s.name}": ${describeIssues(result.error.issues)}`,
        { queue: s.name, issues: result.error.issues },
        result.error,
      );
    },
    retryDelay(attempt, random) {
      return backoffDelay(backoff, attempt, random);
    },
  };
}

/** The delay before the retry that follows failed attempt number `attempt` (from 1), in ms. */
export function backoffDelay(backoff: Required<Backoff>, attempt: number, random: () => number): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(backoff.maxMs, backoff.initialMs * Math.pow(backoff.factor, exponent));
  const spread = 1 + backoff.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(backoff.maxMs, Math.round(base * spread)));
}

/** A queue named by its definition or by name (a name never defined has no schema and no limits). */
export type QueueRef<P = unknown, I = P> = QueueDefinition<P, I> | string;

/** The definition used for a queue that was named but never declared: no schema, no limits. */
export function plainQueue(name: string): QueueDefinition {
  return defineQueue({ name });
}
