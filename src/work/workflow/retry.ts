import type { StepRetryPolicy } from './types.js';

/** Attempts allowed by a policy (default 1: no retry). */
export function maxAttempts(policy: StepRetryPolicy | undefined): number {
  return policy?.maxAttempts ?? 1;
}

/** The wait after failed attempt `attempt` (1-based), in ms: `initial × factor^(attempt-1)`, capped. */
export function retryDelay(policy: StepRetryPolicy | undefined, attempt: number): number {
  const initial = policy?.initialDelayMs ?? 1000;
  const factor = policy?.backoffFactor ?? 2;
  const cap = policy?.maxDelayMs ?? 60_000;
  return Math.min(cap, Math.round(initial * factor ** Math.max(0, attempt - 1)));
}

/** Whether `error` after attempt `attempt` deserves another one. */
export function shouldRetry(policy: StepRetryPolicy | undefined, attempt: number, error: unknown): boolean {
  if (attempt >= maxAttempts(policy)) return false;
  return policy?.retryIf?.(error) ?? true;
}
