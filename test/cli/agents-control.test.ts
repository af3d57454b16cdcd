/**
 * `garrison agents pause|resume|stop ID`: the command line's operator controls, on a store a host runs
 * an agent from. Each is a store transaction with an audit event (`cli:<user>@<host>`); the host follows
 * (woken through the store, or at its next look). An unknown agent exits non-zero with its code; the
 * plain `garrison agents` still lists. On both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createAgentHost,
  defineAction,
  defineAgent,
  listAuditEvents,
  type AgentHost,
} from '../../src/agents/index.js';
import { PermanentError } from '../../src/errors.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { createRuntime, VirtualClock, type Runtime } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient } from '../../src/work/index.js';
import { eventually } from '../agents/support.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

const worker = defineAgent({
  type: 'worker',
  capabilities: ['work'],
  state: z.object({}),
  initialState: {},
  actions: [
    defineAction({ name: 'work', input: z.object({}), output: z.null(), run: () => null }),
    defineAction({
      name: 'fail',
      input: z.object({ n: z.number() }),
      output: z.null(),
      run: (_ctx, { n }) => {
        throw new PermanentError(`task ${n} cannot work`);
      },
    }),
  ],
});

describe.each(adapters)('garrison agents pause|resume|stop on $name', (adapter) => {
  let store: Store | undefined;
  let runtime: Runtime | undefined;
  let host: AgentHost | undefined;
  afterEach(async () => {
    await host?.shutdown();
    await runtime?.shutdown();
    await store?.close();
    store = host = runtime = undefined;
  });

  async function setUp(): Promise<{ url: string; store: Store; host: AgentHost; clock: VirtualClock }> {
    const url = adapter.freshUrl();
    const s = await openStore(url);
    store = s;
    const clock = new VirtualClock();
    runtime = createRuntime({ clock });
    const h = await createAgentHost({
      store: s,
      runtime,
      registry: createRegistry({ store: s, clock }),
      queues: createQueueClient({ store: s, clock }),
      clock,
      nodeId: 'node-a',
    });
    host = h;
    await h.start(worker, { id: 'w1' });
    return { url, store: s, host: h, clock };
  }

  /** Waits for the host to follow: a SQLite host hears of another process's change at its next look. */
  const follows = (clock: VirtualClock, check: () => Promise<boolean>, what: string) =>
    eventually(async () => {
      if (await check()) return true;
      await clock.advance(1_000);
      return false;
    }, what);

  it('pause, resume and stop an agent a host runs; each is audited and the host follows', async () => {
    const { url, store, host, clock } = await setUp();
    const paused = await cli('agents', 'pause', 'w1', '--reason', 'deploy', '--store', url, '--json');
    expect(paused.code).toBe(0);
    expect(lastJson(paused.stdout)).toEqual({
      agent: {
        agentId: 'w1',
        operation: 'pause',
        changed: true,
        lifecycle: 'running',
        status: 'paused',
        pauseReason: 'deploy',
      },
    });
    await follows(clock, async () => (await host.get('w1')).status === 'paused', 'the host paused it');
    await expect(host.enqueue('w1', 'work', {})).rejects.toMatchObject({ code: 'agent_paused' });

    const again = await cli('agents', 'pause', 'w1', '--store', url);
    expect([again.code, again.stdout.trim()]).toEqual([0, 'agent w1 was paused already']);

    const listed = await cli('agents', '--store', url);
    expect(listed.stdout).toMatch(/w1 .*unhealthy.*paused \(deploy\)/);

    const resumed = await cli('agents', 'resume', 'w1', '--store', url);
    expect([resumed.code, resumed.stdout.trim()]).toEqual([0, 'agent w1 resumed']);
    const task = await host.enqueue('w1', 'work', {});
    await follows(clock, async () => (await host.get('w1')).counters.processed === 1, 'it ran work again');
    expect(task.id).toBeGreaterThan(0);

    const stopped = await cli('agents', 'stop', 'w1', '--store', url);
    expect([stopped.code, stopped.stdout.trim()]).toEqual([0, 'agent w1 stopped']);
    await follows(clock, async () => !(await host.get('w1')).running, 'the host stopped it');

    const trail = await listAuditEvents(store, { target: 'w1' });
    expect(trail.map((e) => e.action)).toEqual(['agent.stop', 'agent.resume', 'agent.pause', 'agent.pause']);
    for (const e of trail) expect(e.actor).toMatch(/^cli:.+@.+$/);
  });

  it('an unknown agent exits non-zero with agent_not_found and writes nothing; a missing id is a usage error', async () => {
    const { url, store } = await setUp();
    const unknown = await cli('agents', 'resume', 'nobody', '--store', url);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/agent_not_found/);
    const missing = await cli('agents', 'stop', '--store', url);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/missing required argument 'id'/);
    expect(await listAuditEvents(store)).toEqual([]);
  });

  it('an agent paused by its errors is a health warning of its node and a warning line of garrison status', async () => {
    const url = adapter.freshUrl();
    const s = await openStore(url);
    store = s;
    let node: GarrisonNode | undefined;
    try {
      node = await startNode({ store: s, nodeName: 'status-node', agents: [worker] });
      await node.agents.start(worker, { id: 'w9', maxConsecutiveErrors: 2 });
      await node.agents.enqueue('w9', 'fail', { n: 1 });
      await node.agents.enqueue('w9', 'fail', { n: 2 });
      const n = node;
      await eventually(async () => (await n.agents.get('w9')).status === 'paused', 'w9 paused itself');
      const health = await node.health.run();
      expect(health.status).toBe('degraded');
      expect(health.reasons).toContainEqual(
        expect.stringMatching(
          /^agents: agent w9 paused itself after 2 tasks failed in a row \(last: .*task 2 cannot work\)/,
        ),
      );

      const text = await cli('status', '--store', url);
      expect(text.stdout).toMatch(
        /^warning: agent w9 paused itself after 2 tasks failed in a row .*garrison agents resume w9\)$/m,
      );
      const json = lastJson<{ pausedByErrors: Array<{ agentId: string; consecutiveErrors: number }> }>(
        (await cli('status', '--store', url, '--json')).stdout,
      );
      expect(json.pausedByErrors).toMatchObject([{ agentId: 'w9', consecutiveErrors: 2 }]);

      // Resumed from the command line: the warning is gone.
      expect((await cli('agents', 'resume', 'w9', '--store', url)).code).toBe(0);
      expect((await node.health.run()).status).toBe('healthy');
      expect((await cli('status', '--store', url)).stdout).not.toMatch(/warning: agent w9/);
    } finally {
      await node?.stop();
    }
  });
});
