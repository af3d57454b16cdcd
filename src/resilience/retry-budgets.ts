/**
 * The node's retry budgets by name, so their state is seen: a budget that denied retries in its window
 * is `degraded`, and the health check `retry_budgets` makes the node's health say so, with the reason,
 * instead of the denial being visible only to the caller that got `retry_budget_exhausted`.
 */
import type { Clock } from '../runtime/clock.js';
import type { EventSink, ResilienceEvents } from '../telemetry/index.js';
import {
  createRetryBudget,
  type RetryBudget,
  type RetryBudgetHealth,
  type RetryBudgetOptions,
} from './retry-budget.js';

/** Budget settings without the wiring the registry supplies itself. */
export type RetryBudgetSettings = Omit<RetryBudgetOptions, 'name' | 'clock' | 'events'>;

export interface RetryBudgetRegistryOptions {
  /** Settings every budget starts from. Default: the budget's own defaults. */
  readonly defaults?: RetryBudgetSettings;
  /** Time source for every budget. Default the system clock. */
  readonly clock?: Clock;
  /** Where every budget's `retry.budget_exhausted` goes. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

export class RetryBudgetRegistry {
  private readonly budgets = new Map<string, RetryBudget>();

  constructor(private readonly options: RetryBudgetRegistryOptions = {}) {}

  /** The budget `name`, created on first use from the defaults and `settings` (only applied then). */
  get(name: string, settings: RetryBudgetSettings = {}): RetryBudget {
    let budget = this.budgets.get(name);
    if (budget === undefined) {
      budget = createRetryBudget({
        ...this.options.defaults,
        ...settings,
        name,
        clock: this.options.clock,
        events: this.options.events,
      });
      this.budgets.set(name, budget);
    }
    return budget;
  }

  /** Every budget's health, by name. */
  list(): RetryBudgetHealth[] {
    return [...this.budgets.values()].map((b) => b.health()).sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** The shape of a node health check (the governance layer's `HealthCheckSpec`, which sits above this one). */
export interface RetryBudgetsCheck {
  readonly name: 'retry_budgets';
  readonly critical: false;
  check(): { status: 'degraded'; reason: string; details: Record<string, unknown> } | undefined;
}

/**
 * The health check `retry_budgets`: degraded (not critical: calls still go through, retries are held
 * back) while a budget denies retries; the reason names the budget and its figures.
 */
export function retryBudgetsCheck(budgets: RetryBudgetRegistry): RetryBudgetsCheck {
  return {
    name: 'retry_budgets',
    critical: false,
    check() {
      const degraded = budgets.list().filter((b) => b.status === 'degraded');
      const first = degraded[0];
      if (first === undefined) return undefined;
      const more = degraded.length > 1 ? ` (and ${degraded.length - 1} more budgets)` : '';
      return {
        status: 'degraded',
        reason:
          `retry budget ${first.name} denied ${first.denied} retries: ${first.retries} of ` +
          `${first.allowedRetries} allowed for ${first.calls} calls in its window${more}`,
        details: { degraded },
      };
    },
  };
}
