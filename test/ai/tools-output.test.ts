import { Output } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runAgent, workflowTool, type AgentResult } from '../../src/ai/index.js';
import { defineWorkflow } from '../../src/work/workflow/index.js';
import { adapters } from '../support/stores.js';
import { Harnesses, rejectionOf, until } from '../work/workflow/helpers.js';
import { countingModel, replyFor } from './fixtures/counting-model.js';

const USAGE = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** A final reply whose text is `text`. */
function answer(text: string) {
  return {
    content: [{ type: 'text' as const, text }],
    finishReason: { unified: 'stop' as const, raw: 'stop' },
    usage: USAGE,
    warnings: [],
  };
}

const measurement = z.object({ total: z.number(), unit: z.string() });

describe.each(adapters)('workflow tools and structured output on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('a workflow tool runs each call as a child workflow; a failed child reaches the model as an error', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const squareChild = defineWorkflow('square-child', async (ctx, input: { n: number }) => {
      if (input.n === 2) throw new Error('two is off limits');
      return ctx.step('square', () => Promise.resolve({ value: input.n * input.n }));
    });
    const model = countingModel({ toolTurns: 4 });
    const parent = defineWorkflow('delegating', (ctx) =>
      runAgent(ctx, {
        model,
        prompt: 'Sum the squares of 0 to 3.',
        tools: {
          square: workflowTool(squareChild, {
            description: 'squares a number',
            inputSchema: z.object({ n: z.number().int() }),
          }),
        },
      }),
    );
    engine.register(squareChild, parent);
    const result = await (await engine.start(parent, null, { workflowId: 'delegating-1' })).result();

    expect(result.text).toBe(`total ${0 + 1 + 9}`);
    expect(result.turns[2]!.toolResults[0]).toMatchObject({ ok: false });
    expect((result.turns[2]!.toolResults[0] as { error: string }).error).toContain('two is off limits');
    const children = await engine.list({ name: 'square-child' });
    expect(children).toHaveLength(4);
    expect(children.every((c) => c.parentId === 'delegating-1')).toBe(true);
    const childSteps = (await engine.steps('delegating-1')).filter((s) => s.kind === 'child');
    expect(childSteps.map((s) => s.status)).toEqual(['completed', 'completed', 'failed', 'completed']);
  });

  it("structured output: the final reply's object is parsed, journaled and returned; a resumed run reads it from the journal", async () => {
    const h = await harnesses.create(adapter);
    const first = h.engine();
    const model = new MockLanguageModelV4({
      doGenerate: [replyFor(0, 1, 0), answer('{"total":0,"unit":"squares"}')],
    });
    const options = { prompt: 'Square 0.', output: Output.object({ schema: measurement }) };
    const tools = {
      square: workflowTool('square-child', { inputSchema: z.object({ n: z.number().int() }) }),
    };
    const squareChild = defineWorkflow('square-child', (_ctx, input: { n: number }) =>
      Promise.resolve({ value: input.n * input.n }),
    );
    // The run waits after the loop, so a second engine replays the whole loop from the journal.
    const measuring = (m: MockLanguageModelV4) =>
      defineWorkflow('measuring', async (ctx) => {
        const r = await runAgent(ctx, { model: m, tools, ...options });
        await ctx.waitForSignal('go');
        return r;
      });
    first.register(squareChild, measuring(model));
    await first.start('measuring', null, { workflowId: 'measure-1' });
    await until(
      async () => (await first.steps('measure-1')).some((s) => s.name === 'go' && s.status === 'pending'),
      'the loop is done',
    );
    const final = (await first.steps('measure-1')).find((s) => s.name === 'agent:model:1');
    expect(final?.output).toMatchObject({ output: { total: 0, unit: 'squares' } });
    // The request asked the provider for JSON of the schema.
    expect(model.doGenerateCalls[1]!.responseFormat).toMatchObject({ type: 'json' });
    await first.stop();

    // Replayed on another engine whose model must not be called: the output comes from the journal.
    const second = h.engine({ nodeId: 'node-b' });
    const silent = new MockLanguageModelV4({
      doGenerate: () => Promise.reject(new Error('the model was asked again')),
    });
    second.register(squareChild, measuring(silent));
    await second.signal('measure-1', 'go');
    await second.recover();
    const result = await second.result<AgentResult>('measure-1');
    expect(silent.doGenerateCalls).toHaveLength(0);
    expect(model.doGenerateCalls).toHaveLength(2);
    expect(result.output).toEqual({ total: 0, unit: 'squares' });
    expect(result.turns[0]!.output).toBeUndefined();
  });

  it('a final reply that does not match the output schema fails its model step, and the run', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = new MockLanguageModelV4({ doGenerate: [answer('{"total":"lots"}')] });
    const wf = defineWorkflow('mismeasuring', (ctx) =>
      runAgent(ctx, { model, prompt: 'Measure.', output: Output.object({ schema: measurement }) }),
    );
    engine.register(wf);
    const handle = await engine.start(wf, null);
    const error = await rejectionOf(handle.result());
    expect(error.code).toBe('workflow_failed');
    const [step] = await engine.steps(handle.workflowId);
    expect(step).toMatchObject({ name: 'agent:model:0', status: 'failed' });
  });
});
