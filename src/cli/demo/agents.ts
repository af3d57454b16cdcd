/**
 * The demo's agents: validators, processors and reporters. The processor calls a flaky external payment
 * service through a rate limiter (a token bucket in the store, shared by every node) and a circuit
 * breaker with retries; when the breaker is open or the retries run out, the action fails and its task is
 * retried later by the queue — never lost, never charged twice (the ledger records each effect once by
 * its step key). Every validator also confirms each charge: the workflow fans `confirm` out to all of
 * them and gathers their answers.
 */
import { z } from 'zod';
import { GarrisonError } from '../../errors.js';
import {
  defineAction,
  defineAgent,
  directive,
  withDirectives,
  type ActionContext,
} from '../../agents/index.js';
import {
  exponentialBackoff,
  retry,
  sleep,
  type BreakerRegistry,
  type StoreRateLimiter,
} from '../../resilience/index.js';
import type { Clock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { recordEffect } from './ledger.js';

const handledState = z.strictObject({ handled: z.number().int().min(0) });
type Handled = z.infer<typeof handledState>;

/** The external service the processors call: fails the first tries of a flaky order. */
export class FlakyGateway {
  private readonly failuresLeft = new Map<string, number>();
  calls = 0;
  failures = 0;

  constructor(private readonly failFirst: number) {}

  charge(key: string, flaky: boolean): Promise<string> {
    this.calls += 1;
    if (flaky) {
      const left = this.failuresLeft.get(key) ?? this.failFirst;
      if (left > 0) {
        this.failuresLeft.set(key, left - 1);
        this.failures += 1;
        return Promise.reject(new Error('payment gateway unavailable (503)'));
      }
    }
    return Promise.resolve(`rcpt-${key.replace(/[^A-Za-z0-9]/g, '').slice(-10)}`);
  }
}

/** The gateway's rate limit: a bucket of this many calls, refilled at this rate per second. */
export const GATEWAY_LIMIT = { name: 'demo.payments', capacity: 10, refillPerSecond: 100 } as const;

export interface DemoAgentDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly breakers: BreakerRegistry;
  readonly gateway: FlakyGateway;
  /** Paces the calls to the gateway (shared by every node through the store). */
  readonly limiter: StoreRateLimiter;
  /** Simulated work per action, in ms. Default 0. */
  readonly stepMs?: number;
}

const keyed = { key: z.string().min(1).max(300) };

async function effect(deps: DemoAgentDeps, ctx: ActionContext<Handled>, key: string, action: string) {
  if ((deps.stepMs ?? 0) > 0) await sleep(deps.clock, deps.stepMs ?? 0, ctx.signal);
  await deps.store.transaction((tx) => recordEffect(tx, key, ctx.agentId, action, ctx.now));
}

const bump = (ctx: ActionContext<Handled>) => directive.setState({ handled: ctx.state.handled + 1 });

/**
 * A validator's confirmation of a charge: what the workflow fans out to every validator
 * (`ctx.dispatchAll`). It has no external effect, so the ledger does not record it.
 */
export const confirmAction = defineAction({
  name: 'confirm',
  input: z.strictObject({ ...keyed, receipt: z.string().min(1) }),
  output: z.object({ confirmed: z.boolean(), by: z.string() }),
  run: (ctx: ActionContext<Handled>, input) =>
    withDirectives({ confirmed: input.receipt.startsWith('rcpt-'), by: ctx.agentId }, bump(ctx)),
});

/** Waits for a token of the gateway's bucket (the wait is the bucket's own `retryAfterMs`). */
async function paced(deps: DemoAgentDeps, signal: AbortSignal): Promise<void> {
  for (;;) {
    const decision = await deps.limiter.tryAcquire('gateway');
    if (decision.allowed) return;
    await sleep(deps.clock, Math.max(1, decision.retryAfterMs), signal);
  }
}

export function demoAgents(deps: DemoAgentDeps) {
  const check = defineAction({
    name: 'check',
    input: z.strictObject({ ...keyed, amountCents: z.number().int().min(1) }),
    output: z.object({ valid: z.boolean(), amountCents: z.number().int() }),
    run: async (ctx: ActionContext<Handled>, input) => {
      await effect(deps, ctx, input.key, 'check');
      return withDirectives({ valid: true, amountCents: input.amountCents }, bump(ctx));
    },
  });
  const charge = defineAction({
    name: 'charge',
    input: z.strictObject({ ...keyed, amountCents: z.number().int().min(1), flaky: z.boolean() }),
    output: z.object({ receipt: z.string() }),
    run: async (ctx: ActionContext<Handled>, input) => {
      const breaker = deps.breakers.get('payments');
      let receipt: string;
      try {
        receipt = await retry(
          () =>
            breaker.call(async () => {
              await paced(deps, ctx.signal);
              return deps.gateway.charge(input.key, input.flaky);
            }),
          exponentialBackoff({ maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 200 }),
          { clock: deps.clock, signal: ctx.signal, operation: 'payments.charge' },
        );
      } catch (error) {
        // Retryable: the agent's queue tries the task again after its backoff (the breaker may be open).
        throw new GarrisonError('payment_unavailable', 'the payment service is unavailable', {
          cause: error,
          retryable: true,
        });
      }
      await effect(deps, ctx, input.key, 'charge');
      return withDirectives({ receipt }, bump(ctx));
    },
  });
  const publish = defineAction({
    name: 'publish',
    input: z.strictObject({ ...keyed, n: z.number().int(), receipt: z.string() }),
    output: z.object({ line: z.string() }),
    run: async (ctx: ActionContext<Handled>, input) => {
      await effect(deps, ctx, input.key, 'publish');
      return withDirectives({ line: `order ${input.n}: ${input.receipt}` }, bump(ctx));
    },
  });
  const agent = (type: string, capability: string, actions: Parameters<typeof defineAgent>[0]['actions']) =>
    defineAgent({
      type,
      capabilities: [capability],
      state: handledState,
      initialState: { handled: 0 },
      actions,
    });
  return {
    validator: agent('demo.validator', 'validate', [check, confirmAction]),
    processor: agent('demo.processor', 'process', [charge]),
    reporter: agent('demo.reporter', 'report', [publish]),
  };
}
