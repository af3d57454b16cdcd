/* eslint-disable @typescript-eslint/no-unsafe-member-access -- JSON replies are checked field by field */
/** `/v1/ai/usage`, and an agent loop's approval sent as a signal over HTTP. */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/agents/index.js';
import { actionTool, approvalSignalName, runAgent } from '../../src/ai/index.js';
import { recordModelUsage } from '../../src/governance/index.js';
import { defineWorkflow } from '../../src/work/workflow/index.js';
import { countingModel } from '../ai/fixtures/counting-model.js';
import { adapters } from '../support/stores.js';
import { until } from '../work/workflow/helpers.js';
import { call, startHarness, type Harness } from './support.js';

const row = (runId: string, agent: string, model: string, turn: number, total: number) => ({
  runId,
  loop: 'agent',
  turn,
  workflow: 'wf',
  agent,
  model,
  inputTokens: total - 1,
  outputTokens: 1,
  totalTokens: total,
  at: 1000 + turn,
});

describe.each(adapters)('AI routes on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('GET /v1/ai/usage sums tokens by agent (default), run or model, filtered; a bad query is invalid_input', async () => {
    const x = await startHarness(adapter);
    h = x;
    await recordModelUsage(x.store, row('r1', 'support', 'openai/gpt', 0, 100));
    await recordModelUsage(x.store, row('r1', 'support', 'openai/gpt', 1, 50));
    await recordModelUsage(x.store, row('r2', 'billing', 'anthropic/claude', 0, 30));

    const byAgent = await call(x.url, 'GET', '/v1/ai/usage');
    expect(byAgent.status).toBe(200);
    expect(byAgent.json).toEqual({
      by: 'agent',
      usage: [
        { key: 'support', calls: 2, inputTokens: 148, outputTokens: 2, totalTokens: 150, lastAt: 1001 },
        { key: 'billing', calls: 1, inputTokens: 29, outputTokens: 1, totalTokens: 30, lastAt: 1000 },
      ],
    });
    const byModel = await call(x.url, 'GET', '/v1/ai/usage?by=model&since=1001');
    expect(byModel.json.usage).toEqual([expect.objectContaining({ key: 'openai/gpt', totalTokens: 50 })]);
    const oneRun = await call(x.url, 'GET', '/v1/ai/usage?by=run&runId=r2');
    expect(oneRun.json.usage).toEqual([expect.objectContaining({ key: 'r2', totalTokens: 30 })]);

    const bad = await call(x.url, 'GET', '/v1/ai/usage?by=colour');
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe('invalid_input');
  });

  it('an approval sent to POST /v1/workflows/:id/signal lets the waiting tool call run', async () => {
    const x = await startHarness(adapter);
    h = x;
    const ran: number[] = [];
    const square = defineAction({
      name: 'square',
      input: z.object({ n: z.number().int() }),
      output: z.object({ value: z.number() }),
      run: (_ctx, { n }) => {
        ran.push(n);
        return { value: n * n };
      },
    });
    const wf = defineWorkflow('asks-first', (ctx) =>
      runAgent(ctx, {
        model: countingModel({ toolTurns: 1 }),
        prompt: 'Square 0.',
        tools: { square: actionTool(square, { needsApproval: true }) },
      }),
    );
    x.workflows.register(wf);
    const { workflowId } = await x.workflows.start(wf, null);
    await until(async () => (await x.workflows.get(workflowId))?.status === 'waiting', 'the call waits');
    expect(ran).toEqual([]);

    const sent = await call(x.url, 'POST', `/v1/workflows/${workflowId}/signal`, {
      name: approvalSignalName('agent', 0, 'call-0'),
      data: { approved: true, by: 'ops' },
    });
    expect(sent.status).toBe(202);
    expect(await x.workflows.result(workflowId)).toMatchObject({ text: 'total 0' });
    expect(ran).toEqual([0]);
    const usage = await call(x.url, 'GET', `/v1/ai/usage?by=run&runId=${workflowId}`);
    expect(usage.json.usage).toEqual([expect.objectContaining({ calls: 2, totalTokens: 30 })]);
  });
});
