/** Resilience primitives: circuit breakers, rate limiters, retries and a bounded cache. */
export { BreakerState, BreakerTransitionReason } from './breaker-state.js';
export {
  CircuitBreaker,
  type BreakerStatus,
  type CallOptions,
  type CircuitBreakerOptions,
} from './circuit-breaker.js';
export { BreakerRegistry, type BreakerRegistryOptions, type BreakerSettings } from './breaker-registry.js';
export {
  BreakerTimeoutError,
  CircuitOpenError,
  PermanentError,
  ResilienceErrorCode,
  RetryAbortedError,
  RetryBudgetExhaustedError,
} from './errors.js';
export {
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
} from './rate-limiter.js';
export {
  createStoreRateLimiter,
  type StoreRateLimiter,
  type StoreRateLimiterOptions,
} from './store-rate-limiter.js';
export type { BucketStatus, RateDecision, TokenBucketSettings } from './token-bucket.js';
export {
  customPolicy,
  exponentialBackoff,
  fixedDelay,
  immediate,
  linearBackoff,
  type CustomPolicyOptions,
  type ExponentialBackoffOptions,
  type FixedDelayOptions,
  type ImmediateOptions,
  type Jitter,
  type LinearBackoffOptions,
  type RetryPolicy,
} from './retry-policies.js';
export {
  isRetryableError,
  retry,
  type AttemptContext,
  type CircuitOpenHandling,
  type RetryOptions,
} from './retry.js';
export {
  createRetryBudget,
  type BudgetHealthStatus,
  type RetryBudget,
  type RetryBudgetHealth,
  type RetryBudgetOptions,
} from './retry-budget.js';
export {
  RetryBudgetRegistry,
  retryBudgetsCheck,
  type RetryBudgetRegistryOptions,
  type RetryBudgetSettings,
  type RetryBudgetsCheck,
} from './retry-budgets.js';
export { LruCache, type LruCacheOptions, type LruCacheStats } from './lru-cache.js';
export { sleep } from './sleep.js';
