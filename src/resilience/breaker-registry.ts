/** One circuit breaker per service name, created on first use with shared defaults. */
import type { Clock } from '../runtime/clock.js';
import { CircuitBreaker, type BreakerStatus, type CircuitBreakerOptions } from './circuit-breaker.js';
import type { EventSink, ResilienceEvents } from '../telemetry/index.js';

/** Breaker settings without the wiring the registry supplies itself. */
export type BreakerSettings = Omit<CircuitBreakerOptions, 'clock' | 'events'>;

export interface BreakerRegistryOptions {
  /** Settings every breaker starts from. Default: the breaker's own defaults. */
  readonly defaults?: BreakerSettings;
  /** Per-service settings, applied over `defaults`. */
  readonly services?: Readonly<Record<string, BreakerSettings>>;
  /** Time source for every breaker. Default the system clock. */
  readonly clock?: Clock;
  /** Where every breaker's events go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: BreakerRegistryOptions = {}) {}

  /**
   * The breaker for `service`, created on first use from the defaults, the service's configured settings
   * and `overrides` (in that order). `overrides` only apply when the breaker is created.
   */
  get(service: string, overrides: BreakerSettings = {}): CircuitBreaker {
    let breaker = this.breakers.get(service);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(service, {
        ...this.options.defaults,
        ...this.options.services?.[service],
        ...overrides,
        clock: this.options.clock,
        events: this.options.events,
      });
      this.breakers.set(service, breaker);
    }
    return breaker;
  }

  /** The breaker for `service` if one exists; never creates one. */
  find(service: string): CircuitBreaker | undefined {
    return this.breakers.get(service);
  }

  /** Every breaker's status, by service name. */
  list(): BreakerStatus[] {
    return [...this.breakers.values()]
      .map((b) => b.status())
      .sort((a, b) => a.service.localeCompare(b.service));
  }

  /** Resets the breaker for `service`; false when there is none. */
  reset(service: string): boolean {
    const breaker = this.breakers.get(service);
    breaker?.reset();
    return breaker !== undefined;
  }

  /** Resets every breaker. */
  resetAll(): void {
    for (const breaker of this.breakers.values()) breaker.reset();
  }
}
