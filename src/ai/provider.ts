/**
 * A model provider's protections: a rate limiter and a circuit breaker per provider (from
 * `garrison/resilience`), and durable retries of its refusals. A 429 or 5xx (the SDK's `APICallError`
 * with `isRetryable`), a denial of the rate limiter or an open breaker ends the model call's step with a
 * journaled retry note; the loop then sleeps durably (a journaled timer of the scheduler, honouring the
 * provider's `Retry-After`) and calls again in a new step. No timer lives in memory only.
 */
import { APICallError, RetryError, type LanguageModel } from 'ai';
import { z } from 'zod';
import { GarrisonError } from '../errors.js';
import {
  CircuitOpenError,
  type BreakerRegistry,
  type RateLimiter,
  type StoreRateLimiter,
} from '../resilience/index.js';

export interface ProviderRetryPolicy {
  /** Model calls in all for one turn, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Wait before the second call when the provider gives no `Retry-After`, in ms. Default 1000. */
  readonly initialDelayMs?: number;
  /** Each further wait is the previous one times this. Default 2. */
  readonly backoffFactor?: number;
  /** Longest wait computed by back-off, in ms; a provider's `Retry-After` is honoured beyond it. Default 60000. */
  readonly maxDelayMs?: number;
}

export interface ProviderGuards {
  /** One token per model call from the bucket `ai:<provider>`; a denial is retried after its wait. */
  readonly rateLimiter?: RateLimiter | StoreRateLimiter;
  /** Model calls go through the breaker `ai:<provider>` of this registry; an open breaker is retried. */
  readonly breakers?: BreakerRegistry;
  /** Durable retries of a provider's 429/5xx and of the guards' refusals. Default: none (the call fails). */
  readonly retry?: ProviderRetryPolicy;
}

export const providerSchema = z.looseObject({
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(100).optional(),
      initialDelayMs: z.number().int().min(0).optional(),
      backoffFactor: z.number().min(1).optional(),
      maxDelayMs: z.number().int().min(0).optional(),
    })
    .optional(),
});

/** The provider of a model, naming its rate-limit bucket and breaker. */
export function providerOf(model: LanguageModel): string {
  return typeof model === 'string' ? (model.split('/')[0] ?? model) : model.provider;
}

/** `<provider>/<model id>` as the usage ledger records it. */
export function modelName(model: LanguageModel): string {
  return typeof model === 'string' ? model : `${model.provider}/${model.modelId}`;
}

/** A denial of the provider's rate limiter. */
export class ProviderRateLimitedError extends GarrisonError {
  constructor(
    provider: string,
    readonly retryAfterMs: number,
  ) {
    super('provider_rate_limited', `the rate limiter of provider "${provider}" refused the call`, {
      retryable: true,
      details: { provider, retryAfterMs },
    });
  }
}

/** Takes a token, then runs the call through the provider's breaker. */
export async function guardedCall<T>(
  guards: ProviderGuards | undefined,
  provider: string,
  signal: AbortSignal,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const key = `ai:${provider}`;
  if (guards?.rateLimiter !== undefined) {
    const decision = await guards.rateLimiter.tryAcquire(key);
    if (!decision.allowed) throw new ProviderRateLimitedError(provider, decision.retryAfterMs);
  }
  const breaker = guards?.breakers?.get(key);
  return breaker === undefined ? call(signal) : breaker.call(call, { signal });
}

/** A journaled note that a model call was refused and is to be made again. */
export interface RetryNote {
  readonly retry: {
    readonly message: string;
    /** The wait before the next call, in ms. */
    readonly afterMs: number;
    readonly statusCode?: number;
  };
}

/** The wait a provider asks for in its headers (`retry-after-ms`, `retry-after` in s or as a date). */
export function retryAfterMs(headers: Record<string, string> | undefined, now: number): number | undefined {
  if (headers === undefined) return undefined;
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const ms = Number(lower.get('retry-after-ms'));
  if (lower.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const value = lower.get('retry-after');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function backoff(policy: ProviderRetryPolicy, attempt: number): number {
  const initial = policy.initialDelayMs ?? 1000;
  const max = policy.maxDelayMs ?? 60_000;
  return Math.min(max, initial * (policy.backoffFactor ?? 2) ** (attempt - 1));
}

/**
 * The note for a refusal worth another call on attempt `attempt`, or undefined: an error that is not a
 * provider's transient refusal, or no attempts left.
 */
export function retryNote(
  error: unknown,
  policy: ProviderRetryPolicy | undefined,
  attempt: number,
  now: number,
): RetryNote | undefined {
  if (policy === undefined || attempt >= (policy.maxAttempts ?? 5)) return undefined;
  const e = RetryError.isInstance(error) ? error.lastError : error;
  if (APICallError.isInstance(e)) {
    if (!e.isRetryable) return undefined;
    return {
      retry: {
        message: e.message,
        afterMs: retryAfterMs(e.responseHeaders, now) ?? backoff(policy, attempt),
        ...(e.statusCode === undefined ? {} : { statusCode: e.statusCode }),
      },
    };
  }
  if (e instanceof ProviderRateLimitedError) {
    return { retry: { message: e.message, afterMs: Math.max(e.retryAfterMs, 1) } };
  }
  if (e instanceof CircuitOpenError) {
    const wait = e.retryAfterMs > 0 ? e.retryAfterMs : backoff(policy, attempt);
    return { retry: { message: e.message, afterMs: wait } };
  }
  return undefined;
}
