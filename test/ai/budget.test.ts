import { APICallError } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/agents/index.js';
import { actionTool, runAgent, type RunAgentOptions } from '../../src/ai/index.js';
import { listModelUsage, recordModelUsage } from '../../src/governance/index.js';
import { BreakerRegistry, createRateLimiter } from '../../src/resilience/index.js';
import { defineWorkflow, type WorkflowEngine } from '../../src/work/workflow/index.js';
import { adapters } from '../support/stores.js';
import { Harnesses, rejectionOf, until } from '../work/workflow/helpers.js';
import { countingModel, sumOfSquares } from './fixtures/counting-model.js';

const square = actionTool(
  defineAction({
    name: 'square',
    input: z.object({ n: z.number().int() }),
    output: z.object({ value: z.number() }),
    run: (_ctx, { n }) => ({ value: n * n }),
  }),
);

/** A loop of the counting model (15 tokens a call) with `turns` tool turns and the given options. */
function loop(name: string, model: MockLanguageModelV4, turns: number, extra: Partial<RunAgentOptions> = {}) {
  return defineWorkflow(name, (ctx) =>
    runAgent(ctx, { model, prompt: `Sum the squares of 0 to ${turns - 1}.`, tools: { square }, ...extra }),
  );
}

/** A provider's refusal as the SDK reports it. */
function refusal(statusCode: number, headers: Record<string, string> = {}): APICallError {
  return new APICallError({
    message: `provider answered ${statusCode}`,
    url: 'https://provider.test/v1/chat',
    requestBodyValues: {},
    statusCode,
    responseHeaders: headers,
    isRetryable: statusCode === 429 || statusCode >= 500,
  });
}

/** The counting model, failing the calls whose number (0 first) `failures` maps to an error. */
function flakyModel(turns: number, failures: ReadonlyMap<number, Error>): MockLanguageModelV4 {
  let calls = 0;
  const inner = countingModel({ toolTurns: turns });
  return new MockLanguageModelV4({
    doGenerate: async (options) => {
      const failure = failures.get(calls++);
      if (failure !== undefined) throw failure;
      return inner.doGenerate(options);
    },
  });
}

async function stepNames(engine: WorkflowEngine, id: string): Promise<string[]> {
  return (await engine.steps(id)).map((s) => s.name);
}

describe.each(adapters)('agent budgets, usage and provider retries on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it("records each journaled reply's tokens by run, agent and model", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = countingModel({ toolTurns: 3 });
    engine.register(loop('usage', model, 3, { agent: 'counter' }));
    await (await engine.start('usage', null, { workflowId: 'usage-1' })).result();
    await (await engine.start('usage', null, { workflowId: 'usage-2' })).result();

    const byRun = await listModelUsage(h.store, { by: 'run' });
    expect(byRun.map((r) => [r.key, r.calls, r.inputTokens, r.outputTokens, r.totalTokens])).toEqual([
      ['usage-1', 4, 40, 20, 60],
      ['usage-2', 4, 40, 20, 60],
    ]);
    expect(await listModelUsage(h.store, { by: 'agent' })).toMatchObject([
      { key: 'counter', calls: 8, totalTokens: 120 },
    ]);
    expect(await listModelUsage(h.store, { by: 'model', runId: 'usage-2' })).toMatchObject([
      { key: 'mock-provider/mock-model-id', calls: 4, totalTokens: 60 },
    ]);
    await expect(listModelUsage(h.store, { by: 'colour' as never })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it("a run's token budget refuses the next model call with budget_exceeded: the model is not called", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = countingModel({ toolTurns: 5 });
    engine.register(loop('capped-run', model, 5, { budget: { maxRunTokens: 30 } }));
    const handle = await engine.start('capped-run', null);
    const error = await rejectionOf(handle.result());

    expect(error.message).toContain("the run's token budget is spent (30 of 30 tokens) before model call 2");
    expect((await handle.get())?.error).toMatchObject({ code: 'budget_exceeded' });
    expect(model.doGenerateCalls).toHaveLength(2);
    expect(await listModelUsage(h.store, { by: 'run' })).toMatchObject([{ calls: 2, totalTokens: 30 }]);
  });

  it('a malformed budget or retry policy is refused before any model call or journal write', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = countingModel({ toolTurns: 1 });
    engine.register(loop('no-budget', model, 1, { budget: { maxRunTokens: 0 } }));
    engine.register(loop('no-retry', model, 1, { provider: { retry: { maxAttempts: -1 } } }));
    for (const name of ['no-budget', 'no-retry']) {
      const handle = await engine.start(name, null);
      const error = await rejectionOf(handle.result());
      expect(error.message).toContain('invalid agent options');
      expect(await engine.steps(handle.workflowId)).toEqual([]);
    }
    expect(model.doGenerateCalls).toHaveLength(0);
  });

  it("an agent's budget per period counts its other runs' tokens within the period, not older ones", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const budget = { perAgent: { maxTokens: 40, periodMs: 3_600_000 } };
    // Tokens of the agent from two hours ago: outside the period.
    await recordModelUsage(h.store, {
      runId: 'old-run',
      loop: 'agent',
      turn: 0,
      workflow: 'old',
      agent: 'support',
      model: 'mock-provider/mock-model-id',
      inputTokens: 500,
      outputTokens: 500,
      totalTokens: 1000,
      at: Date.now() - 7_200_000,
    });
    const first = countingModel({ toolTurns: 1 });
    const second = countingModel({ toolTurns: 1 });
    engine.register(loop('first', first, 1, { agent: 'support', budget }));
    engine.register(loop('second', second, 1, { agent: 'support', budget }));
    expect(await (await engine.start('first', null)).result()).toMatchObject({ text: 'total 0' });
    expect(first.doGenerateCalls).toHaveLength(2);

    const handle = await engine.start('second', null);
    const error = await rejectionOf(handle.result());
    expect(error.message).toContain('agent "support" spent its token budget (45 of 40 tokens');
    expect((await handle.get())?.error).toMatchObject({ code: 'budget_exceeded' });
    // 30 tokens before it started: one call (45), then none.
    expect(second.doGenerateCalls).toHaveLength(1);
  });

  it("a provider's 429 is retried after its Retry-After, through a journaled sleep", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = flakyModel(2, new Map([[1, refusal(429, { 'retry-after': '7' })]]));
    engine.register(loop('patient', model, 2, { provider: { retry: { maxAttempts: 3 } } }));
    const { workflowId } = await engine.start('patient', null, { workflowId: 'patient-1' });
    await until(async () => (await engine.get(workflowId))?.status === 'sleeping', 'the loop sleeps');
    const sleeping = await engine.steps(workflowId);
    const note = sleeping.find((s) => s.name === 'agent:model:1');
    expect(note?.output).toMatchObject({ retry: { afterMs: 7000, statusCode: 429 } });
    const sleep = sleeping.at(-1)!;
    expect(sleep.kind).toBe('sleep');
    expect(sleep.dueAt! - h.clock.now()).toBe(7000);
    await h.clock.advance(6999);
    expect(model.doGenerateCalls).toHaveLength(2);
    await h.clock.advance(1);
    const result = await engine.result(workflowId);

    expect(result).toMatchObject({ text: `total ${sumOfSquares(2)}` });
    expect(model.doGenerateCalls).toHaveLength(4);
    expect(await stepNames(engine, workflowId)).toContain('agent:model:1:retry:2');
    // The refused call spent no tokens that were journaled: three replies recorded.
    expect(await listModelUsage(h.store, { by: 'run' })).toMatchObject([{ calls: 3 }]);
  });

  it('a 5xx without Retry-After backs off; a 400 is not retried and fails the run', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const flaky = flakyModel(1, new Map([[0, refusal(503)]]));
    const broken = flakyModel(1, new Map([[0, refusal(400)]]));
    const retry = { maxAttempts: 2, initialDelayMs: 250 };
    engine.register(loop('backs-off', flaky, 1, { provider: { retry } }));
    engine.register(loop('refused', broken, 1, { provider: { retry } }));
    const { workflowId } = await engine.start('backs-off', null);
    await until(async () => (await engine.get(workflowId))?.status === 'sleeping', 'the loop sleeps');
    await h.clock.advance(250);
    expect(await engine.result(workflowId)).toMatchObject({ text: 'total 0' });

    const refused = await engine.start('refused', null);
    const error = await rejectionOf(refused.result());
    expect(error.message).toContain('provider answered 400');
    expect(broken.doGenerateCalls).toHaveLength(1);
  });

  it("the provider's rate limiter and breaker hold calls back; their refusals are retried durably", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 1, clock: h.clock });
    const breakers = new BreakerRegistry({
      clock: h.clock,
      defaults: { failureThreshold: 1, resetTimeoutMs: 5000 },
    });
    // The first call fails with a 500: the breaker opens.
    const model = flakyModel(1, new Map([[0, refusal(500)]]));
    engine.register(
      loop('guarded', model, 1, {
        provider: { rateLimiter: limiter, breakers, retry: { maxAttempts: 5, initialDelayMs: 1000 } },
      }),
    );
    const { workflowId } = await engine.start('guarded', null, { workflowId: 'guarded-1' });
    const sleeps = async (n: number) =>
      until(
        async () =>
          (await engine.get(workflowId))?.status === 'sleeping' &&
          (await engine.steps(workflowId)).filter((s) => s.kind === 'sleep').length === n,
        `sleep ${n}`,
      );
    await sleeps(1); // after the 500: back-off of 1000 ms
    expect(breakers.find('ai:mock-provider')?.status().state).toBe('open');
    await h.clock.advance(1000);
    await sleeps(2); // the breaker is open for 4000 ms more: no call made
    expect(model.doGenerateCalls).toHaveLength(1);
    await h.clock.advance(4000);
    // Half-open: the probe goes through (the limiter has refilled) and the loop goes on.
    await until(async () => model.doGenerateCalls.length >= 2, 'the probe call');
    const notes = (await engine.steps(workflowId)).map((s) => s.output as { retry?: { message: string } });
    expect(notes[2]?.retry?.message).toContain('circuit breaker for ai:mock-provider is open');
    // The next turn finds the bucket empty and waits for a token.
    await sleeps(3);
    const limited = (await engine.steps(workflowId)).at(-2)?.output as { retry?: { message: string } };
    expect(limited.retry?.message).toContain('rate limiter of provider "mock-provider" refused');
    await h.clock.advance(1000);
    expect(await engine.result(workflowId)).toMatchObject({ text: 'total 0' });
    expect(model.doGenerateCalls).toHaveLength(3);
  });
});
