/** `garrison ai usage` and `garrison ai approve|deny`, in-process on both stores. */
import { afterEach, describe, expect, it } from 'vitest';
import { recordModelUsage } from '../../src/governance/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/workflow/index.js';
import { adapters } from '../support/stores.js';
import { until } from '../work/workflow/helpers.js';
import { cli, lastJson } from './support.js';

describe.each(adapters)('ai commands on $name', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('ai usage lists tokens by agent, run or model as a table or JSON; a bad group is refused', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    opened.push(store);
    const base = { loop: 'agent', workflow: 'wf', inputTokens: 10, outputTokens: 5, totalTokens: 15 };
    const now = Date.now();
    await recordModelUsage(store, {
      ...base,
      runId: 'r1',
      turn: 0,
      agent: 'support',
      model: 'p/m1',
      at: now,
    });
    await recordModelUsage(store, {
      ...base,
      runId: 'r1',
      turn: 1,
      agent: 'support',
      model: 'p/m1',
      at: now,
    });
    await recordModelUsage(store, {
      ...base,
      runId: 'r2',
      turn: 0,
      agent: 'billing',
      model: 'p/m2',
      at: now - 3 * 86_400_000,
    });

    const text = await cli('ai', 'usage', '--store', url);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/agent\s+calls\s+input\s+output\s+total/);
    expect(text.stdout).toMatch(/support\s+2\s+20\s+10\s+30/);
    const recent = await cli('ai', 'usage', '--store', url, '--by', 'model', '--since', '1d', '--json');
    expect(lastJson(recent.stdout)).toMatchObject({
      by: 'model',
      usage: [{ key: 'p/m1', calls: 2, totalTokens: 30 }],
    });
    const run = await cli('ai', 'usage', '--store', url, '--by', 'run', '--run', 'r2', '--json');
    expect(lastJson(run.stdout)).toMatchObject({ usage: [{ key: 'r2', calls: 1 }] });
    const bad = await cli('ai', 'usage', '--store', url, '--by', 'colour');
    // Refused through the command line's own error path (exit code 1, one `garrison:` line), the process kept.
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^garrison: .*must be one of run, agent, model/m);
  });

  it('ai approve and ai deny send the decision a waiting call listens for; another signal name is refused', async () => {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    opened.push(store);
    const engine = createWorkflowEngine({ store, nodeId: 'n1', recoverIntervalMs: 0 });
    const wf = defineWorkflow('decides', async (ctx) => [
      await ctx.waitForSignal('approval:agent:0:c1'),
      await ctx.waitForSignal('approval:agent:1:c2'),
    ]);
    engine.register(wf);
    try {
      const { workflowId } = await engine.start(wf, null);
      await until(async () => (await engine.get(workflowId))?.status === 'waiting', 'the run waits');
      const yes = await cli(
        'ai',
        'approve',
        workflowId,
        'approval:agent:0:c1',
        '--by',
        'ops',
        '--store',
        url,
      );
      expect(yes.code, yes.stderr).toBe(0);
      expect(yes.stdout).toContain(`approval sent to ${workflowId}`);
      const no = await cli(
        'ai',
        'deny',
        workflowId,
        'approval:agent:1:c2',
        '--reason',
        'too dear',
        '--store',
        url,
      );
      expect(no.code, no.stderr).toBe(0);
      expect(await engine.result(workflowId)).toEqual([
        { approved: true, by: 'ops' },
        { approved: false, reason: 'too dear' },
      ]);
      const wrong = await cli('ai', 'approve', workflowId, 'go', '--store', url);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('"go" is not an approval signal');
    } finally {
      await engine.stop();
    }
  });
});
