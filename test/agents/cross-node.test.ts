/**
 * Work, calls, signals, pauses and resumes sent from node A to an agent that runs on node B, through the
 * store. Two hosts with their own store connections, runtimes and registries share one database and one
 * virtual clock. On PostgreSQL the hosts poll every 60 s and the clock is never moved that far: whatever
 * reaches B was woken by LISTEN/NOTIFY. On SQLite two stores on one file cannot wake each other, so
 * `nudge()` moves the clock by the poll interval (1 s): the poll is the safety net there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentQueueName,
  CALL_PRIORITY,
  createAgentHost,
  isAgentError,
  type AgentHost,
  type AgentHostOptions,
} from '../../src/agents/index.js';
import { isGarrisonError, ValidationError } from '../../src/errors.js';
import { createRegistry, type AgentRegistry } from '../../src/registry/index.js';
import { createRuntime, VirtualClock, type Runtime } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, type QueueClient } from '../../src/work/index.js';
import { adapters, type TestAdapter } from '../support/stores.js';
import { ledgerAgent, type LedgerState } from './fixtures/cross-node-agent.js';
import { eventually, gate, recorder } from './support.js';

interface NodeParts {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly events: ReturnType<typeof recorder>;
  readonly host: AgentHost;
}

interface Cluster {
  readonly clock: VirtualClock;
  readonly a: NodeParts;
  readonly b: NodeParts;
  /** Lets a wake-up that only a poll can carry arrive (SQLite); nothing on PostgreSQL. */
  nudge(): Promise<void>;
  /** Until `check` holds, nudging in between. */
  until(check: () => boolean | Promise<boolean>, what: string): Promise<void>;
  close(): Promise<void>;
}

async function openNode(
  url: string,
  clock: VirtualClock,
  nodeId: string,
  options: Partial<AgentHostOptions>,
): Promise<NodeParts> {
  const store = await openStore(url);
  const runtime = createRuntime({ clock });
  const registry = createRegistry({ store, clock });
  const queues = createQueueClient({ store, clock });
  const events = recorder();
  const host = await createAgentHost({ store, runtime, registry, queues, clock, nodeId, events, ...options });
  return { store, runtime, registry, queues, events, host };
}

async function closeNode(n: NodeParts): Promise<void> {
  await n.host.shutdown();
  await n.runtime.shutdown();
  await n.store.close();
}

async function openCluster(
  adapter: TestAdapter,
  b: Partial<AgentHostOptions> = {},
  a: Partial<AgentHostOptions> = {},
): Promise<Cluster> {
  const url = adapter.freshUrl();
  const clock = new VirtualClock();
  const pollIntervalMs = adapter.name === 'postgres' ? 60_000 : 1_000;
  const nodeB = await openNode(url, clock, 'node-b', { pollIntervalMs, ...b });
  const nodeA = await openNode(url, clock, 'node-a', { pollIntervalMs, ...a });
  const nudge = async () => {
    if (adapter.name === 'sqlite') await clock.advance(pollIntervalMs);
  };
  return {
    clock,
    a: nodeA,
    b: nodeB,
    nudge,
    async until(check, what) {
      await eventually(async () => {
        if (await check()) return true;
        await nudge();
        return false;
      }, what);
    },
    async close() {
      await closeNode(nodeA);
      await closeNode(nodeB);
    },
  };
}

const stateOf = (host: AgentHost, id: string) => host.state<LedgerState>(id);

describe.each(adapters)('agents across nodes on $name', (adapter) => {
  let c: Cluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it(
    'enqueue from node A: committed in the store, B is woken and runs each task exactly once',
    { timeout: 10_000 },
    async () => {
      c = await openCluster(adapter, {}, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent(), { id: 'l1' });
      for (const label of ['one', 'two', 'three']) {
        const task = await c.a.host.enqueue('l1', 'record', { label });
        // Committed before enqueue answered: any connection sees it.
        expect((await c.b.queues.getTask(task.id))?.queue).toBe(agentQueueName('l1'));
        const cluster = c;
        await c.until(
          async () => (await stateOf(cluster.b.host, 'l1')).done.includes(label),
          `${label} ran on B`,
        );
      }
      const info = await c.a.host.get('l1');
      expect(info).toMatchObject({ node: 'node-b', status: 'idle' });
      expect(info.counters.processed).toBe(3);
      expect((await stateOf(c.a.host, 'l1')).done).toEqual(['one', 'two', 'three']);
      // Work for an agent A knows the type of is validated on A: nothing is queued.
      const bad = await c.a.host.enqueue('l1', 'record', { label: 7 }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ValidationError);
      expect((await c.a.host.get('l1')).queue.queued).toBe(0);
    },
  );

  it(
    'a call from node A is routed through the store and answered with the outcome B committed',
    { timeout: 10_000 },
    async () => {
      c = await openCluster(adapter, {}, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent(), { id: 'l1' });
      const call = c.a.host.call('l1', 'increment', { by: 3 }, { timeoutMs: 600_000 });
      const cluster = c;
      await c.until(async () => (await stateOf(cluster.b.host, 'l1')).count === 3, 'the call ran on B');
      await c.nudge();
      expect(await call).toEqual({ count: 3 });
      expect((await c.a.host.get('l1')).counters.processed).toBe(1);

      // A failure comes back as the typed error it was on B, naming the node.
      const failing = c.a.host
        .call('l1', 'fail', { message: 'nope' }, { timeoutMs: 600_000 })
        .catch((e: unknown) => e);
      await c.until(async () => (await c!.a.host.get('l1')).counters.failed === 1, 'the failure recorded');
      await c.nudge();
      const error = await failing;
      expect(isAgentError(error, 'action_failed')).toBe(true);
      expect((error as Error).message).toContain('nope');
      expect(error).toMatchObject({ details: { agentId: 'l1', node: 'node-b' } });

      // Refused on A before anything is queued: a bad input, an unknown action.
      expect(await c.a.host.call('l1', 'increment', { by: 'x' }).catch((e: unknown) => e)).toBeInstanceOf(
        ValidationError,
      );
      expect(
        isAgentError(await c.a.host.call('l1', 'nope', {}).catch((e: unknown) => e), 'unknown_action'),
      ).toBe(true);
      expect((await c.a.host.get('l1')).queue.queued).toBe(0);
    },
  );

  it(
    'a host that does not know the agent type has it validated on B: the refusal comes back typed',
    { timeout: 10_000 },
    async () => {
      c = await openCluster(adapter);
      await c.b.host.start(ledgerAgent(), { id: 'l1' });
      const bad = c.a.host
        .call('l1', 'increment', { by: 'x' }, { timeoutMs: 600_000 })
        .catch((e: unknown) => e);
      const missing = c.a.host.call('l1', 'nope', {}, { timeoutMs: 600_000 }).catch((e: unknown) => e);
      await c.until(async () => (await c!.a.host.get('l1')).counters.failed === 2, 'both refusals recorded');
      await c.nudge();
      const [e1, e2] = await Promise.all([bad, missing]);
      expect(isGarrisonError(e1, 'invalid_input')).toBe(true);
      expect(isAgentError(e2, 'unknown_action')).toBe(true);
    },
  );

  it(
    'a call that is still queued at its timeout is cancelled and never runs; one already running may complete',
    { timeout: 10_000 },
    async () => {
      const hold = gate();
      const started: string[] = [];
      const onRecord = async (label: string) => {
        started.push(label);
        if (label === 'slow') await hold.promise;
      };
      // Leases far beyond the clock's moves: only the calls' deadlines matter here.
      c = await openCluster(adapter, { leaseMs: 100_000_000 }, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent({ onRecord }), { id: 'l1' });
      const busyDeadline = c.clock.now() + 200_000;
      const busy = c.a.host
        .call('l1', 'record', { label: 'slow' }, { timeoutMs: 200_000 })
        .catch((e: unknown) => e);
      await c.until(() => started.includes('slow'), 'B runs the slow call');
      const queuedDeadline = c.clock.now() + 100_000;
      const queued = c.a.host
        .call('l1', 'increment', { by: 1 }, { timeoutMs: 100_000 })
        .catch((e: unknown) => e);
      await c.until(async () => (await c!.a.host.get('l1')).queue.queued === 1, 'the second call queued');

      await c.clock.advanceTo(queuedDeadline);
      const expired = await queued;
      expect(isAgentError(expired, 'call_timeout')).toBe(true);
      expect(expired).toMatchObject({ retryable: true, details: { node: 'node-b', state: 'cancelled' } });
      const taskId = (expired as { details: { taskId: number } }).details.taskId;
      expect((await c.a.queues.getTask(taskId))?.state).toBe('cancelled');

      await c.clock.advanceTo(busyDeadline);
      const late = await busy;
      expect(isAgentError(late, 'call_timeout')).toBe(true);
      expect(late).toMatchObject({ details: { state: 'running' } });

      hold.open();
      await c.until(
        async () => (await stateOf(c!.b.host, 'l1')).done.includes('slow'),
        'the running call completed',
      );
      // The cancelled call never ran.
      expect((await stateOf(c.b.host, 'l1')).count).toBe(0);
      expect((await c.a.host.get('l1')).counters.processed).toBe(1);
    },
  );

  it(
    'calls go ahead of queued work on the remote agent, like a direct call',
    { timeout: 10_000 },
    async () => {
      const hold = gate();
      const order: string[] = [];
      const onRecord = async (label: string) => {
        order.push(label);
        if (label === 'first') await hold.promise;
      };
      c = await openCluster(adapter, {}, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent({ onRecord }), { id: 'l1' });
      await c.a.host.enqueue('l1', 'record', { label: 'first' });
      await c.until(() => order.includes('first'), 'B runs the first task');
      await c.a.host.enqueue('l1', 'record', { label: 'queued' }, { priority: 10 });
      const call = c.a.host.call('l1', 'record', { label: 'called' }, { timeoutMs: 600_000 });
      await c.until(async () => (await c!.a.queues.stats(agentQueueName('l1'))).queued === 2, 'both waiting');
      const waiting = await c.a.queues.listTasks({ queue: agentQueueName('l1'), states: ['queued'] });
      expect(waiting.map((t) => t.priority).sort((x, y) => y - x)).toEqual([CALL_PRIORITY, 10]);
      hold.open();
      await c.until(() => order.length === 3, 'all three ran');
      await c.nudge();
      expect(await call).toEqual({ label: 'called', done: 2 });
      expect(order).toEqual(['first', 'called', 'queued']);
    },
  );

  it('a call to an agent that is stopped on another node is refused at once, naming the node', async () => {
    c = await openCluster(adapter);
    await c.b.host.start(ledgerAgent(), { id: 'l1' });
    await c.b.host.stop('l1');
    const error = await c.a.host.call('l1', 'increment', { by: 1 }).catch((e: unknown) => e);
    expect(isAgentError(error, 'agent_not_running')).toBe(true);
    expect((error as Error).message).toContain('node-b');
    expect((await c.a.host.get('l1')).queue.queued).toBe(0);
  });

  it(
    'pause from node A reaches B through the store: B takes no more work until A resumes it',
    { timeout: 10_000 },
    async () => {
      const hold = gate();
      const started: string[] = [];
      const onRecord = async (label: string) => {
        started.push(label);
        if (label === 'w1') await hold.promise;
      };
      c = await openCluster(adapter, {}, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent({ onRecord }), { id: 'l1' });
      await c.a.host.enqueue('l1', 'record', { label: 'w1' });
      await c.until(() => started.includes('w1'), 'B runs w1');
      await c.a.host.enqueue('l1', 'record', { label: 'w2' });

      const paused = await c.a.host.pause('l1', 'maintenance');
      expect(paused).toMatchObject({ status: 'paused', pauseReason: 'maintenance' });
      // In the same transaction, the registry entry of B's process: never give it work.
      expect((await c.b.registry.get('l1')).health).toBe('unhealthy');
      expect(c.a.events.of('agent.paused')).toEqual([{ agentId: 'l1', reason: 'maintenance' }]);
      // B followed (woken through the store): it refuses a direct call as paused; A refuses new work.
      await c.until(() => c!.b.events.of('agent.pause_followed').length === 1, 'B follows the pause');
      expect(c.b.events.of('agent.pause_followed')).toEqual([
        { agentId: 'l1', paused: true, reason: 'maintenance' },
      ]);
      expect(
        isAgentError(
          await c.b.host.call('l1', 'increment', { by: 1 }).catch((e: unknown) => e),
          'agent_paused',
        ),
      ).toBe(true);
      expect(
        isAgentError(
          await c.a.host.enqueue('l1', 'record', { label: 'w3' }).catch((e: unknown) => e),
          'agent_paused',
        ),
      ).toBe(true);
      // The running task finishes; the queued one waits.
      hold.open();
      await c.until(async () => (await stateOf(c!.b.host, 'l1')).done.includes('w1'), 'w1 finished');
      await c.nudge();
      await c.nudge();
      expect(started).toEqual(['w1']);
      expect((await c.a.queues.stats(agentQueueName('l1'))).queued).toBe(1);

      await c.a.host.resume('l1');
      await c.until(
        async () => (await stateOf(c!.b.host, 'l1')).done.includes('w2'),
        'w2 ran after the resume',
      );
      expect(c.b.events.of('agent.pause_followed').map((e) => e.paused)).toEqual([true, false]);
      expect((await c.b.registry.get('l1')).health).toBe('healthy');
      expect(await c.b.host.call('l1', 'read', {})).toMatchObject({ done: ['w1', 'w2'] });
    },
  );

  it(
    'a signal from node A is committed, handled on B by the action its type routes to, and acknowledged',
    { timeout: 10_000 },
    async () => {
      c = await openCluster(adapter, {}, { definitions: [ledgerAgent()] });
      await c.b.host.start(ledgerAgent(), { id: 'l1' });
      const receipt = await c.a.host.signal('l1', {
        type: 'ledger.note',
        id: 'n-1',
        data: { label: 'hello' },
      });
      expect(receipt).toMatchObject({
        duplicate: false,
        signal: { specversion: '1.0', id: 'n-1', type: 'ledger.note', source: 'garrison://node-a/host' },
      });
      await c.until(
        async () => (await c!.a.queues.getTask(receipt.taskId))?.state === 'completed',
        'the signal acknowledged',
      );
      expect((await stateOf(c.a.host, 'l1')).done).toEqual(['ledger.note:hello']);

      // The same signal again (same source and id) is a duplicate: handled once.
      const again = await c.a.host.signal('l1', { type: 'ledger.note', id: 'n-1', data: { label: 'hello' } });
      expect(again).toMatchObject({ duplicate: true, taskId: receipt.taskId });

      // A signal no pattern routes is refused on A (which knows the type); bad fields are named.
      expect(
        isAgentError(
          await c.a.host.signal('l1', { type: 'other.thing' }).catch((e: unknown) => e),
          'unknown_signal',
        ),
      ).toBe(true);
      const bad = await c.a.host.signal('l1', { type: 'no spaces' }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ValidationError);
      expect((bad as Error).message).toContain('type');

      // A paused agent keeps its signals: handled after it resumes.
      await c.a.host.pause('l1');
      await c.until(() => c!.b.events.of('agent.pause_followed').length === 1, 'B follows the pause');
      const held = await c.a.host.signal('l1', { type: 'ledger.note', data: { label: 'later' } });
      await c.nudge();
      expect((await c.a.queues.getTask(held.taskId))?.state).toBe('queued');
      await c.a.host.resume('l1');
      await c.until(
        async () => (await c!.a.queues.getTask(held.taskId))?.state === 'completed',
        'handled after resume',
      );
      expect((await stateOf(c.a.host, 'l1')).done).toEqual(['ledger.note:hello', 'ledger.note:later']);
      expect((await c.a.host.get('l1')).counters.processed).toBe(2);
    },
  );

  it(
    'a signal from a host that does not know the type: B records an unroutable one as an unknown_signal failure',
    { timeout: 10_000 },
    async () => {
      c = await openCluster(adapter);
      await c.b.host.start(ledgerAgent(), { id: 'l1' });
      const receipt = await c.a.host.signal('l1', { type: 'other.thing' });
      await c.until(async () => (await c!.a.host.get('l1')).counters.failed === 1, 'the failure recorded');
      expect(c.b.events.of('agent.action')).toEqual([
        expect.objectContaining({
          agentId: 'l1',
          ok: false,
          error: 'unknown_signal',
          taskId: receipt.taskId,
        }),
      ]);
    },
  );
});
