import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/agents/index.js';
import { actionTool, capabilityTool, runAgent, type DurableTool } from '../../src/ai/index.js';
import { PermanentError } from '../../src/errors.js';
import { createLocalDispatcher, defineWorkflow, type WorkflowEngine } from '../../src/work/workflow/index.js';
import { MockLanguageModelV4 } from 'ai/test';
import { adapters } from '../support/stores.js';
import { deferred, Harnesses, rejectionOf, until } from '../work/workflow/helpers.js';
import { countingModel, sumOfSquares, toolResultsIn } from './fixtures/counting-model.js';

const TOOL_TURNS = 10;
const USAGE = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** `square` as an action: records each run under its idempotency key; `before` may throw or wait. */
function squareAction(effects: Map<string, number>, before?: (n: number) => void | Promise<void>) {
  return defineAction({
    name: 'square',
    description: 'squares a number',
    input: z.object({ n: z.number().int() }),
    output: z.object({ value: z.number() }),
    async run(ctx, { n }) {
      await before?.(n);
      effects.set(ctx.idempotencyKey, (effects.get(ctx.idempotencyKey) ?? 0) + 1);
      return { value: n * n };
    },
  });
}

function countingWorkflow(model: ReturnType<typeof countingModel>, square: DurableTool) {
  return defineWorkflow('counting-agent', (ctx) =>
    runAgent(ctx, {
      model,
      system: 'Square each number, then add them up.',
      prompt: 'Sum the squares of 0 to 9.',
      tools: { square },
      maxSteps: 20,
    }),
  );
}

async function journal(engine: WorkflowEngine, id: string): Promise<string[]> {
  return (await engine.steps(id)).map((s) => `${s.name}:${s.status}`);
}

describe.each(adapters)('durable agent loop on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('a 10-turn loop answers with every tool result, calls the model 11 times and runs each tool once', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = countingModel({ toolTurns: TOOL_TURNS });
    const wf = countingWorkflow(model, actionTool(squareAction(effects)));
    engine.register(wf);
    const result = await (await engine.start(wf, null, { workflowId: 'count-1' })).result();

    expect(result.text).toBe(`total ${sumOfSquares(TOOL_TURNS)}`);
    expect(result.stoppedBy).toBe('answer');
    expect(result.turns).toHaveLength(TOOL_TURNS + 1);
    expect(result.usage).toEqual({ inputTokens: 110, outputTokens: 55, totalTokens: 165 });
    expect(model.doGenerateCalls).toHaveLength(TOOL_TURNS + 1);
    expect([...effects.values()]).toEqual(Array.from({ length: TOOL_TURNS }, () => 1));
    expect([...effects.keys()]).toEqual(
      Array.from({ length: TOOL_TURNS }, (_, t) => `count-1:agent:${t}:call-${t}`),
    );
    const steps = await journal(engine, 'count-1');
    // Per turn: the model call, its usage record, and the tool call (the last turn has no tool call).
    expect(steps).toHaveLength(3 * TOOL_TURNS + 2);
    expect(steps.slice(0, 4)).toEqual([
      'agent:model:0:completed',
      'agent:usage:0:completed',
      'agent:tool:0:square:completed',
      'agent:model:1:completed',
    ]);
  });

  it('a resumed loop takes finished turns from the journal: the model is never asked for them again', async () => {
    const h = await harnesses.create(adapter);
    const first = h.engine();
    const effects = new Map<string, number>();
    const gate = deferred();
    const atTurnFour = deferred();
    const firstModel = countingModel({ toolTurns: TOOL_TURNS });
    const square = squareAction(effects, async (n) => {
      if (n === 4) {
        atTurnFour.resolve();
        await gate.promise;
      }
    });
    first.register(countingWorkflow(firstModel, actionTool(square)));
    const handle = await first.start('counting-agent', null, { workflowId: 'count-2' });
    await atTurnFour.promise;
    // Paused at the next boundary: after turn 4's tool call is journaled, before turn 5's model call.
    await first.pause('count-2');
    gate.resolve();
    await until(async () => (await handle.get())?.status === 'paused', 'the run is paused');
    await first.stop();

    const second = h.engine({ nodeId: 'node-b' });
    const asked: number[] = [];
    const strictModel = countingModel({
      toolTurns: TOOL_TURNS,
      onCall: (turn) => {
        if (turn < 5) throw new Error(`the model was asked again for journaled turn ${turn}`);
        asked.push(turn);
      },
    });
    second.register(countingWorkflow(strictModel, actionTool(square)));
    await second.resume('count-2');
    const result = await second.result('count-2');

    expect(result).toMatchObject({ text: `total ${sumOfSquares(TOOL_TURNS)}`, stoppedBy: 'answer' });
    expect(firstModel.doGenerateCalls).toHaveLength(5);
    expect(asked).toEqual([5, 6, 7, 8, 9, 10]);
    // The resumed model saw the whole conversation, rebuilt from the journal.
    expect(toolResultsIn(strictModel.doGenerateCalls[0]!)).toHaveLength(5);
    expect(effects.size).toBe(TOOL_TURNS);
    expect([...effects.values()].every((n) => n === 1)).toBe(true);
  });

  it("a tool's error goes back to the model as the call's result, and the loop carries on", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = countingModel({ toolTurns: 5 });
    const square = squareAction(effects, (n) => {
      if (n === 3) throw new Error('3 is unlucky');
    });
    const wf = countingWorkflow(model, actionTool(square));
    engine.register(wf);
    const result = await (await engine.start(wf, null)).result();

    expect(result.text).toBe(`total ${0 + 1 + 4 + 16}`);
    expect(result.turns[3]!.toolResults).toEqual([
      { toolCallId: 'call-3', toolName: 'square', ok: false, error: '3 is unlucky' },
    ]);
    const prompt = model.doGenerateCalls[4]!.prompt;
    const toolParts = prompt.flatMap((m) => (m.role === 'tool' ? m.content : []));
    expect(toolParts[3]).toMatchObject({
      type: 'tool-result',
      toolCallId: 'call-3',
      output: { type: 'error-text', value: '3 is unlucky' },
    });
    expect(effects.size).toBe(4);
  });

  it('a PermanentError thrown by a tool fails the run, and no further model call is made', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = countingModel({ toolTurns: 5 });
    const square = squareAction(new Map(), (n) => {
      if (n === 1) throw new PermanentError('the ledger refuses this', { code: 'ledger_refused' });
    });
    engine.register(countingWorkflow(model, actionTool(square)));
    const handle = await engine.start('counting-agent', null);
    const error = await rejectionOf(handle.result());
    expect(error.code).toBe('workflow_failed');
    expect(error.message).toContain('the ledger refuses this');
    expect(model.doGenerateCalls).toHaveLength(2);
  });

  it('a capability tool hands each call to an agent through ctx.dispatch; its failure reaches the model', async () => {
    const h = await harnesses.create(adapter);
    const seen: string[] = [];
    const engine = h.engine({
      dispatcher: createLocalDispatcher({
        math: {
          square: async (input, request) => {
            const { n } = input as { n: number };
            seen.push(request.idempotencyKey);
            if (n === 2) throw new Error('the math agent is out of chalk');
            return { value: n * n };
          },
        },
      }),
    });
    const model = countingModel({ toolTurns: 4 });
    const square = squareAction(new Map());
    const wf = countingWorkflow(model, capabilityTool('math', square));
    engine.register(wf);
    const result = await (await engine.start(wf, null, { workflowId: 'count-5' })).result();

    expect(result.text).toBe(`total ${0 + 1 + 9}`);
    expect(result.turns[2]!.toolResults[0]).toMatchObject({ ok: false });
    expect((result.turns[2]!.toolResults[0] as { error: string }).error).toContain('out of chalk');
    expect(seen).toHaveLength(4);
    expect(model.doGenerateCalls).toHaveLength(5);
  });

  it('a call of an unknown tool or with a bad input goes back to the model as an error; no tool runs', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = new MockLanguageModelV4({
      doGenerate: [
        {
          content: [
            { type: 'tool-call', toolCallId: 'c1', toolName: 'cube', input: '{"n":2}' },
            { type: 'tool-call', toolCallId: 'c2', toolName: 'square', input: '{"n":"two"}' },
          ],
          finishReason: { unified: 'tool-calls', raw: undefined },
          usage: USAGE,
          warnings: [],
        },
        {
          content: [{ type: 'text', text: 'I could not compute it' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: USAGE,
          warnings: [],
        },
      ],
    });
    const wf = defineWorkflow('bad-calls', (ctx) =>
      runAgent(ctx, { model, prompt: 'Cube 2.', tools: { square: actionTool(squareAction(effects)) } }),
    );
    engine.register(wf);
    const result = await (await engine.start(wf, null)).result();

    expect(result.text).toBe('I could not compute it');
    expect(effects.size).toBe(0);
    const toolMessages = model.doGenerateCalls[1]!.prompt.flatMap((m) => (m.role === 'tool' ? [m] : []));
    expect(toolMessages).toHaveLength(1);
    const answers = toolMessages[0]!.content;
    expect(
      answers.map((p): [string, string] =>
        p.type === 'tool-result' ? [p.toolCallId, p.output.type] : [p.type, p.type],
      ),
    ).toEqual([
      ['c1', 'error-text'],
      ['c2', 'error-text'],
    ]);
  });

  it('maxSteps ends the loop after that many model calls; stopWhen ends it after a turn it accepts', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = countingModel({ toolTurns: TOOL_TURNS });
    const square = actionTool(squareAction(effects));
    const capped = defineWorkflow('capped', (ctx) =>
      runAgent(ctx, { model, prompt: 'Sum the squares.', tools: { square }, maxSteps: 3 }),
    );
    const judged = defineWorkflow('judged', (ctx) =>
      runAgent(ctx, {
        model,
        messages: [{ role: 'user', content: 'Sum the squares.' }],
        tools: { square },
        stopWhen: (turns) => turns.some((t) => t.toolResults.some((r) => r.ok && r.output !== null)),
      }),
    );
    engine.register(capped);
    engine.register(judged);

    const first = await (await engine.start(capped, null)).result();
    expect(first.stoppedBy).toBe('max-steps');
    expect(first.turns.map((t) => t.toolResults.length)).toEqual([1, 1, 1]);
    expect(model.doGenerateCalls).toHaveLength(3);

    const second = await (await engine.start(judged, null)).result();
    expect(second.stoppedBy).toBe('stop-when');
    expect(second.turns).toHaveLength(1);
    expect(second.messages.map((m) => m.role)).toEqual(['assistant', 'tool']);
    expect(model.doGenerateCalls).toHaveLength(4);
    expect(effects.size).toBe(4);
  });

  it('options without a prompt are refused before any model call or journal write', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const model = countingModel({ toolTurns: 1 });
    const wf = defineWorkflow('no-prompt', (ctx) =>
      runAgent(ctx, { model, tools: { square: actionTool(squareAction(new Map())) } }),
    );
    engine.register(wf);
    const handle = await engine.start(wf, null);
    const error = await rejectionOf(handle.result());
    expect(error.message).toContain('give either prompt or messages');
    expect(model.doGenerateCalls).toHaveLength(0);
    expect(await engine.steps(handle.workflowId)).toEqual([]);
  });
});
