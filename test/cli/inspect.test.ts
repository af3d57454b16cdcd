import { afterEach, describe, expect, it } from 'vitest';
import { createQueueClient, defineQueue } from '../../src/work/queue/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

describe.each(adapters)('inspection commands on $name', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function fresh(): Promise<{ url: string; store: Store }> {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    opened.push(store);
    return { url, store };
  }

  it('workflows start makes a durable pending run that list, show and cancel then see', async () => {
    const { url } = await fresh();
    const input = JSON.stringify({ n: 1, amountCents: 250, flaky: false });
    const started = await cli(
      'workflows',
      'start',
      'demo.order',
      '--input',
      input,
      '--id',
      'o-1',
      '--store',
      url,
      '--json',
    );
    expect(started.code).toBe(0);
    expect(lastJson(started.stdout)).toEqual({ workflowId: 'o-1', created: true });
    const again = await cli(
      'workflows',
      'start',
      'demo.order',
      '--input',
      input,
      '--id',
      'o-1',
      '--store',
      url,
      '--json',
    );
    expect(lastJson(again.stdout)).toEqual({ workflowId: 'o-1', created: false });

    const list = lastJson<{ workflows: Array<{ id: string; status: string }> }>(
      (await cli('workflows', 'list', '--store', url, '--json')).stdout,
    );
    expect(list.workflows.map((w) => [w.id, w.status])).toEqual([['o-1', 'pending']]);
    const shown = await cli('workflows', 'show', 'o-1', '--store', url);
    expect(shown.stdout).toContain('demo.order');
    const cancelled = lastJson<{ workflow: { status: string } }>(
      (await cli('workflows', 'cancel', 'o-1', '--store', url, '--json')).stdout,
    );
    expect(cancelled.workflow.status).toBe('cancelled');
  });

  it('workflows start takes any name: with no live node serving it the run is durable and a warning says it waits', async () => {
    const { url, store } = await fresh();
    const started = await cli(
      'workflows',
      'start',
      'never.registered',
      '--input',
      '{"a":1}',
      '--id',
      'w-1',
      '--store',
      url,
      '--json',
    );
    expect(started.code).toBe(0);
    expect(started.stderr).toBe(
      'garrison: warning: no live node runs never.registered; the run waits for one\n',
    );
    expect(lastJson(started.stdout)).toEqual({ workflowId: 'w-1', created: true });
    const rows = await store.query<{ name: string; status: string; input: string }>(
      "SELECT name, status, input FROM garrison_workflow_runs WHERE id = 'w-1'",
    );
    expect(rows.map((r) => [r.name, r.status])).toEqual([['never.registered', 'pending']]);
  });

  it('bad input is one line naming the problem, exits non-zero, and writes nothing', async () => {
    const { url } = await fresh();
    const badJson = await cli('workflows', 'start', 'demo.order', '--input', '{nope', '--store', url);
    expect(badJson.code).not.toBe(0);
    expect(badJson.stderr).toContain('not valid JSON');
    const badName = await cli('workflows', 'start', 'two words', '--store', url);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('invalid workflow name');
    const missing = await cli('workflows', 'show', 'absent', '--store', url);
    expect(missing.stderr).toBe('garrison: no workflow run has the id absent [workflow_not_found]\n');
    const list = lastJson<{ workflows: unknown[] }>(
      (await cli('workflows', '--store', url, '--json')).stdout,
    );
    expect(list.workflows).toEqual([]);
    expect((await cli('dlq', 'purge', '--store', url)).stderr).toContain(
      'garrison: purge needs --queue <name> or --ids',
    );
    expect((await cli('tasks', 'show', 'x', '--store', url)).code).not.toBe(0);
  });

  it('tasks, dlq, timers and agents list what the store holds', async () => {
    const { url, store } = await fresh();
    const queue = defineQueue({ name: 'mail', maxAttempts: 1 });
    const client = createQueueClient({ store, localHandoff: false, queues: [queue] });
    const task = await client.enqueue(queue, { to: 'a' });
    await createRegistry({ store }).register({
      id: 'agent-1',
      capabilities: ['validate'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });

    const tasks = lastJson<{ tasks: Array<{ id: number; state: string }> }>(
      (await cli('tasks', '--store', url, '--json')).stdout,
    );
    expect(tasks.tasks.map((t) => [t.id, t.state])).toEqual([[task.id, 'queued']]);
    const [claimed] = await client.claim('mail', { workerId: 'w', limit: 1 });
    expect(claimed).toBeDefined();
    await client.fail(claimed!, new Error('boom'));
    const dead = lastJson<{ deadLetters: Array<{ id: number; lastError: string }> }>(
      (await cli('dlq', 'list', '--store', url, '--json')).stdout,
    );
    expect(dead.deadLetters.map((t) => t.id)).toEqual([task.id]);
    expect(
      lastJson((await cli('dlq', 'retry', '--ids', String(task.id), '--store', url, '--json')).stdout),
    ).toEqual({
      retried: 1,
    });
    expect((await client.getTask(task.id))?.state).toBe('queued');

    const agents = lastJson<{ agents: Array<{ id: string }> }>(
      (await cli('agents', '--capability', 'validate', '--store', url, '--json')).stdout,
    );
    expect(agents.agents.map((a) => a.id)).toEqual(['agent-1']);
    const timers = lastJson<{ timers: unknown[] }>((await cli('timers', '--store', url, '--json')).stdout);
    expect(timers.timers).toEqual([]);
  });
});
