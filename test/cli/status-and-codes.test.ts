/**
 * The command line as real processes, on both stores: `garrison agents` shows each agent's status from
 * its state row (paused with its reason); `garrison workflows show` prints a failed run's error code — or
 * its name when it has none, never `undefined` — and why a dispatched step waits; a workflow no live node
 * serves still starts, with a warning that it waits; `garrison tasks --state` takes a list, comma-separated or repeated;
 * `garrison status` names the workflows whose unfinished runs no live node runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  agentQueueName,
  createAgentHost,
  defineAction,
  defineAgent,
  type AgentHost,
} from '../../src/agents/index.js';
import { createTaskDistributor } from '../../src/coordination/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { createRuntime, systemClock, type Runtime } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { expectOk, garrison, json, tableRows } from './spawn.js';

const TIMEOUT = 120_000;

const idler = defineAgent({
  type: 'idler',
  capabilities: ['idle'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'nap', input: z.object({}), output: z.null(), run: () => null })],
});

/** Throws outside any step: the run's error is a plain Error, with no code. */
const broken = defineWorkflow('broken', (_ctx, _input: unknown) => {
  throw new Error('the plan was wrong');
});
/** A step no agent can take. */
const stranded = defineWorkflow('stranded', async (ctx, _input: unknown) => {
  await ctx.dispatch(idler.action('nap'), {}, { capability: 'doc.nobody' });
});

describe.each(adapters)('status, error codes and lists in the CLI on $name', (adapter) => {
  let store: Store | undefined;
  let runtime: Runtime | undefined;
  let host: AgentHost | undefined;
  afterEach(async () => {
    await host?.shutdown();
    await runtime?.shutdown();
    await store?.close();
    host = undefined;
    runtime = undefined;
    store = undefined;
  });

  it(
    'agents show paused (reason); show prints codes and waits; an unserved start warns; tasks --state takes a list',
    async () => {
      const url = adapter.freshUrl();
      const s = await openStore(url);
      store = s;
      runtime = createRuntime({ clock: systemClock });
      const registry = createRegistry({ store: s });
      const queues = createQueueClient({ store: s, localHandoff: false });
      const late: { engine?: ReturnType<typeof createWorkflowEngine> } = {};
      const distributor = createTaskDistributor({
        store: s,
        registry,
        queues,
        clock: systemClock,
        queueOf: agentQueueName,
        agentQueuePrefix: agentQueueName(''),
        results: () => late.engine!,
      });
      host = await createAgentHost({ store: s, runtime, registry, queues, nodeId: 'node-a', distributor });
      await host.start(idler, { id: 'a-idle' });
      await host.start(idler, { id: 'a-paused' });
      await host.pause('a-paused', 'maintenance');
      const engine = createWorkflowEngine({
        store: s,
        nodeId: 'node-a',
        dispatcher: distributor,
        recoverIntervalMs: 0,
      }).register(broken, stranded);
      late.engine = engine;
      const failed = await engine.start(broken, {});
      await failed.result().catch(() => undefined);
      const waiting = await engine.start(stranded, {});
      for (let i = 0; i < 500; i++) {
        const [step] = await engine.steps(waiting.workflowId);
        if (step?.waiting !== undefined) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await engine.stop();
      await queues.enqueue('mail', { to: 'ada' });
      const store_ = ['--store', url];

      const [agents, agentsJson, show, stuck, unknown, tasksBoth, tasksRepeated, tasksBad, status] =
        await Promise.all([
          garrison(['agents', ...store_]),
          garrison(['agents', ...store_, '--json']),
          garrison(['workflows', 'show', failed.workflowId, ...store_]),
          garrison(['workflows', 'show', waiting.workflowId, ...store_]),
          garrison(['workflows', 'start', 'no.such.workflow', ...store_]),
          garrison(['tasks', '--state', 'queued,dead', ...store_, '--json']),
          garrison(['tasks', '--state', 'running', '--state', 'queued', ...store_, '--json']),
          garrison(['tasks', '--state', 'queued,,dead', ...store_]),
          garrison(['status', ...store_]),
        ]);

      expectOk(agents);
      const rows = tableRows(agents.stdout);
      expect(rows[0]).toEqual(['id', 'type', 'capabilities', 'health', 'node', 'status', 'registered']);
      expect(rows.slice(1).map((r) => [r[0], r[5]])).toEqual([
        ['a-idle', 'idle'],
        ['a-paused', 'paused (maintenance)'],
      ]);
      expectOk(agentsJson);
      expect(json<{ agents: unknown[] }>(agentsJson).agents).toMatchObject([
        { id: 'a-idle', status: 'idle', pauseReason: null },
        { id: 'a-paused', status: 'paused', pauseReason: 'maintenance' },
      ]);

      expectOk(show);
      expect(show.stdout).toContain('failed  (Error: the plan was wrong)');
      expect(show.stdout).not.toContain('undefined');
      expectOk(stuck);
      expect(stuck.stdout).toContain('step 0 waits: no_capable_agent');

      expect(unknown.code).toBe(0);
      expect(unknown.stdout).toMatch(/^started \S+\n$/);
      expect(unknown.stderr).toBe(
        'garrison: warning: no live node runs no.such.workflow; the run waits for one\n',
      );

      expectOk(tasksBoth);
      const both = json<{ tasks: Array<{ queue: string; state: string }> }>(tasksBoth).tasks;
      expect([...new Set(both.map((t) => t.state))]).toEqual(['queued']);
      expect(both.some((t) => t.queue === 'mail')).toBe(true);
      expectOk(tasksRepeated);
      const repeated = json<{ tasks: Array<{ state: string }> }>(tasksRepeated).tasks;
      expect(repeated.length).toBe(both.length);
      expect(tasksBad.code).toBe(1);
      expect(tasksBad.stderr).toMatch(/^garrison: .*comma-separated list/);

      // No node has joined this store: the waiting run of `stranded` has no live node to run it.
      expectOk(status);
      expect(status.stdout).toContain('no live node runs stranded (1 unfinished runs wait)');
      expect(status.stdout).not.toContain('no live node runs broken'); // finished: nothing waits
    },
    TIMEOUT,
  );
});
