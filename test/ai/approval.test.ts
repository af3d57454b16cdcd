import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/agents/index.js';
import {
  actionTool,
  approvalSignalName,
  runAgent,
  type AgentResult,
  type DurableTool,
} from '../../src/ai/index.js';
import { createClient, type GarrisonClient } from '../../src/client/index.js';
import { defineWorkflow } from '../../src/work/workflow/index.js';
import { adapters } from '../support/stores.js';
import { Harnesses, until } from '../work/workflow/helpers.js';
import { countingModel, sumOfSquares, toolResultsIn } from './fixtures/counting-model.js';

/** `square`, recording each run of its effect by the call's key. */
function square(effects: Map<string, number>) {
  return defineAction({
    name: 'square',
    description: 'squares a number',
    input: z.object({ n: z.number().int() }),
    output: z.object({ value: z.number() }),
    run: (ctx, { n }) => {
      effects.set(ctx.idempotencyKey, (effects.get(ctx.idempotencyKey) ?? 0) + 1);
      return { value: n * n };
    },
  });
}

function approvingWorkflow(model: ReturnType<typeof countingModel>, tool: DurableTool, turns = 3) {
  return defineWorkflow('approving-agent', (ctx) =>
    runAgent(ctx, { model, prompt: `Sum the squares of 0 to ${turns - 1}.`, tools: { square: tool } }),
  );
}

describe.each(adapters)('tool approvals on $name', (adapter) => {
  const harnesses = new Harnesses();
  let client: GarrisonClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await harnesses.closeAll();
  });

  it('a call that needs approval waits on a durable signal; the wait survives a restart and an approval sent through the client runs it', async () => {
    const h = await harnesses.create(adapter);
    const effects = new Map<string, number>();
    // Only odd numbers need a person: turns 0 and 2 run at once, turn 1 waits.
    const tool = actionTool(square(effects), {
      needsApproval: (input) => (input as { n: number }).n % 2 === 1,
    });
    const firstModel = countingModel({ toolTurns: 3 });
    const first = h.engine();
    first.register(approvingWorkflow(firstModel, tool));
    const { workflowId } = await first.start('approving-agent', null, { workflowId: 'approve-1' });
    const name = approvalSignalName('agent', 1, 'call-1');
    await until(
      async () => (await first.get(workflowId))?.status === 'waiting',
      'the run waits for approval',
    );
    const waiting = await first.steps(workflowId);
    expect(waiting.at(-1)).toMatchObject({ name, kind: 'signal', status: 'pending' });
    expect(effects.size).toBe(1);
    // The wait holds no execution slot: the run is parked.
    await until(() => first.activity().parked === 1, 'the waiting run is parked');
    expect(first.activity().executing).toBe(0);
    await first.stop();

    // A new node on the same store; the approval comes from a process with no node at all.
    client = await createClient({ store: h.url });
    await client.signal(workflowId, name, { approved: true, by: 'ops@example.com' });
    const secondModel = countingModel({ toolTurns: 3 });
    const second = h.engine({ nodeId: 'node-b' });
    second.register(approvingWorkflow(secondModel, tool));
    await second.recover();
    const result = await second.result(workflowId);

    expect(result).toMatchObject({ text: `total ${sumOfSquares(3)}`, stoppedBy: 'answer' });
    expect([...effects.values()]).toEqual([1, 1, 1]);
    // The first node asked for turns 0 and 1; the second only for turns 2 and 3.
    expect(firstModel.doGenerateCalls).toHaveLength(2);
    expect(secondModel.doGenerateCalls).toHaveLength(2);
    const signal = (await second.steps(workflowId)).find((s) => s.name === name);
    expect(signal).toMatchObject({ status: 'completed', output: { data: { approved: true } } });
  });

  it("a denial goes back to the model as the call's error and the tool never runs", async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = countingModel({ toolTurns: 2 });
    engine.register(approvingWorkflow(model, actionTool(square(effects), { needsApproval: true }), 2));
    const { workflowId } = await engine.start('approving-agent', null);
    await until(async () => (await engine.get(workflowId))?.status === 'waiting', 'the first call waits');
    // Data that is not a decision is ignored: the call waits on.
    await engine.signal(workflowId, approvalSignalName('agent', 0, 'call-0'), 'yes please');
    await until(
      async () => (await engine.steps(workflowId)).filter((s) => s.kind === 'signal').length === 2,
      'the call waits again',
    );
    await engine.signal(workflowId, approvalSignalName('agent', 0, 'call-0'), {
      approved: false,
      reason: 'zero is not worth it',
    });
    await until(
      async () => (await engine.steps(workflowId)).filter((s) => s.kind === 'signal').length === 3,
      'the second call waits',
    );
    await engine.signal(workflowId, approvalSignalName('agent', 1, 'call-1'), { approved: true });
    const result = await engine.result<AgentResult>(workflowId);

    expect(result.turns[0]!.toolResults).toEqual([
      {
        toolCallId: 'call-0',
        toolName: 'square',
        ok: false,
        error: 'the call was denied by a person: zero is not worth it',
        denied: true,
      },
    ]);
    expect(toolResultsIn(model.doGenerateCalls[1]!)[0]?.ok).toBe(false);
    expect([...effects.keys()]).toEqual([`${workflowId}:agent:1:call-1`]);
    expect(result.text).toBe('total 1');
  });

  it('a call not decided within approvalTimeoutMs counts as denied, on the durable clock', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const effects = new Map<string, number>();
    const model = countingModel({ toolTurns: 1 });
    const tool = actionTool(square(effects), { needsApproval: true, approvalTimeoutMs: 60_000 });
    engine.register(approvingWorkflow(model, tool, 1));
    const { workflowId } = await engine.start('approving-agent', null);
    await until(async () => (await engine.get(workflowId))?.status === 'waiting', 'the call waits');
    await h.clock.advance(60_000);
    const result = await engine.result<AgentResult>(workflowId);
    expect(result.turns[0]!.toolResults[0]).toMatchObject({
      ok: false,
      denied: true,
      error: 'the call was denied by a person: no decision within 60000 ms',
    });
    expect(effects.size).toBe(0);
  });
});
