/**
 * Work sent to an agent: its own durable priority queue (higher priority first), a queue limit checked
 * in the enqueue's transaction, status idle / processing / paused / error, durable counters and
 * average duration, pause and resume, and the automatic pause after consecutive errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentQueueName, isAgentError } from '../../src/agents/index.js';
import { adapters } from '../support/stores.js';
import {
  counterAgent,
  eventually,
  gate,
  newJournal,
  openFixture,
  queueLabels,
  type Fixture,
  type Journal,
} from './support.js';

describe.each(adapters)('work on an agent queue on $name', (adapter) => {
  let f: Fixture | undefined;
  let held: ReturnType<typeof gate> | undefined;
  afterEach(async () => {
    held?.open();
    held = undefined;
    await f?.close();
    f = undefined;
  });

  /** Starts agent `id` busy with a task `first` that waits for `held`. */
  async function busyAgent(options: { queueLimit?: number } = {}): Promise<{ f: Fixture; journal: Journal }> {
    f = await openFixture(adapter);
    const journal = newJournal();
    held = gate();
    journal.hold = held.promise;
    const started: string[] = [];
    journal.onWork = (label) => started.push(label);
    await f.host.start(counterAgent(journal), { id: 'w1', ...options });
    await f.host.enqueue('w1', 'work', { label: 'first' });
    await eventually(() => started.includes('first'), 'the first task started');
    return { f, journal };
  }

  it('tasks run highest priority first, then in the order they came', async () => {
    const { f, journal } = await busyAgent();
    const order: Array<[string, number]> = [
      ['low', 1],
      ['high', 10],
      ['none', 0],
      ['mid', 5],
      ['high-2', 10],
      ['below', -3],
    ];
    for (const [label, priority] of order) await f.host.enqueue('w1', 'work', { label }, { priority });
    expect(await queueLabels(f.queues, agentQueueName('w1'))).toEqual([
      'high',
      'high-2',
      'mid',
      'low',
      'none',
      'below',
    ]);
    held!.open();
    await eventually(async () => (await f.host.get('w1')).counters.processed === 7, 'every task ran');
    expect(journal.ran).toEqual(['first', 'high', 'high-2', 'mid', 'low', 'none', 'below']);
    const info = await f.host.get('w1');
    expect(info.counters.processed).toBe(7);
    expect(info.queue).toMatchObject({ queued: 0, running: 0, dead: 0 });
  });

  it('the queue limit refuses the task past it with queue_full, and nothing is queued', async () => {
    const { f } = await busyAgent({ queueLimit: 2 });
    await f.host.enqueue('w1', 'work', { label: 'a' });
    await f.host.enqueue('w1', 'work', { label: 'b' });
    const error = await f.host.enqueue('w1', 'work', { label: 'c' }).catch((e: unknown) => e);
    expect(isAgentError(error, 'queue_full')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect(await queueLabels(f.queues, agentQueueName('w1'))).toEqual(['a', 'b']);
  });

  it('concurrent enqueues never take the queue past its limit (checked in the enqueue transaction)', async () => {
    const { f } = await busyAgent({ queueLimit: 5 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => f.host.enqueue('w1', 'work', { label: `t${i}` })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) expect(isAgentError(r.reason, 'queue_full')).toBe(true);
    expect((await f.host.get('w1')).queue.queued).toBe(5);
  });

  it('work with an unknown action or invalid input is refused at enqueue, naming the field', async () => {
    const { f } = await busyAgent();
    const unknown = await f.host.enqueue('w1', 'juggle', {}).catch((e: unknown) => e);
    expect(isAgentError(unknown, 'unknown_action')).toBe(true);
    const invalid = await f.host.enqueue('w1', 'work', { label: 3 }).catch((e: unknown) => e);
    expect((invalid as { code: string; message: string }).code).toBe('invalid_input');
    expect((invalid as Error).message).toContain('label');
    const missing = await f.host.enqueue('nobody', 'work', { label: 'x' }).catch((e: unknown) => e);
    expect(isAgentError(missing, 'agent_not_found')).toBe(true);
    expect((await f.host.get('w1')).queue.queued).toBe(0);
  });

  it('status moves idle → processing (with the current task) → error → idle, and durations are durable', async () => {
    f = await openFixture(adapter);
    const journal = newJournal();
    await f.host.start(counterAgent(journal), { id: 'w1' });
    expect((await f.host.get('w1')).status).toBe('idle');
    held = gate();
    journal.hold = held.promise;
    let started = false;
    journal.onWork = () => (started = true);
    const task = await f.host.enqueue('w1', 'work', { label: 'slow' });
    await eventually(() => started, 'the task started');
    await eventually(async () => (await f!.host.get('w1')).status === 'processing', 'processing');
    expect((await f.host.get('w1')).currentTask).toBe(task.id);
    await f.clock.advance(120);
    held.open();
    await eventually(async () => (await f!.host.get('w1')).counters.processed === 1, 'processed');
    await f.host.enqueue('w1', 'fail', {});
    await eventually(async () => (await f!.host.get('w1')).status === 'error', 'error status');
    await f.host.call('w1', 'increment', { by: 1 });
    const info = await f.host.get('w1');
    expect(info.status).toBe('idle');
    expect(info.currentTask).toBeNull();
    expect(info.counters).toEqual({
      processed: 2,
      failed: 1,
      consecutiveErrors: 0,
      totalDurationMs: 120,
      averageDurationMs: 40,
    });
  });

  it('a paused agent refuses new work with agent_paused; its queued work waits and runs after resume', async () => {
    const { f, journal } = await busyAgent();
    await f.host.enqueue('w1', 'work', { label: 'queued-before' });
    const paused = await f.host.pause('w1');
    expect(paused).toMatchObject({ status: 'paused', pauseReason: 'manual' });
    expect((await f.registry.get('w1')).health).toBe('unhealthy');
    const refused = await f.host.enqueue('w1', 'work', { label: 'refused' }).catch((e: unknown) => e);
    expect(isAgentError(refused, 'agent_paused')).toBe(true);
    expect((refused as Error).message).toMatch(/paused .*resume/);
    const call = await f.host.call('w1', 'increment', { by: 1 }).catch((e: unknown) => e);
    expect(isAgentError(call, 'agent_paused')).toBe(true);
    held!.open(); // the task it was running finishes; the queued one waits
    await eventually(() => journal.ran.includes('first'), 'the running task finished');
    expect(await f.host.call('w1', 'read', {})).toEqual({ count: 0 }); // reading is not work
    expect((await f.host.get('w1')).queue.queued).toBe(1);
    expect(journal.ran).toEqual(['first']);
    await f.host.resume('w1');
    await eventually(() => journal.ran.length === 2, 'the queued task ran');
    expect(journal.ran).toEqual(['first', 'queued-before']);
    expect((await f.registry.get('w1')).health).toBe('healthy');
    expect(f.events.of('agent.paused')).toEqual([{ agentId: 'w1', reason: 'manual' }]);
    expect(f.events.of('agent.resumed')).toEqual([{ agentId: 'w1' }]);
  });

  it('after N consecutive errors the agent pauses itself, durably; resume resets the streak', async () => {
    f = await openFixture(adapter, { definitions: [counterAgent()] });
    const journal = newJournal();
    await f.host.start(counterAgent(journal), { id: 'w1', maxConsecutiveErrors: 3 });
    held = gate();
    journal.hold = held.promise;
    await f.host.enqueue('w1', 'work', { label: 'hold' });
    for (let i = 0; i < 5; i++) await f.host.enqueue('w1', 'fail', { message: `f${i}` });
    held.open();
    await eventually(async () => (await f!.host.get('w1')).status === 'paused', 'paused by errors');
    let info = await f.host.get('w1');
    expect(info).toMatchObject({ pauseReason: 'consecutive_errors' });
    expect(info.counters).toMatchObject({ processed: 1, failed: 3, consecutiveErrors: 3 });
    expect((await f.registry.get('w1')).health).toBe('unhealthy');
    expect(f.events.of('agent.paused')).toEqual([{ agentId: 'w1', reason: 'consecutive_errors' }]);
    await eventually(async () => (await f!.host.get('w1')).queue.running === 0, 'the consumer stopped');
    expect((await f.host.get('w1')).queue.queued).toBe(2);

    // The pause is durable: a new host resumes the agent still paused.
    await f.host.shutdown();
    const next = await f.reopen();
    info = await next.get('w1');
    expect(info).toMatchObject({ status: 'paused', running: true, pauseReason: 'consecutive_errors' });
    expect((await f.registry.get('w1')).health).toBe('unhealthy');

    await next.resume('w1');
    await eventually(async () => (await next.get('w1')).counters.failed === 5, 'the rest ran');
    info = await next.get('w1');
    expect(info.status).toBe('error');
    expect(info.counters.consecutiveErrors).toBe(2);
  });

  it('a retryable failure is retried by the queue after its backoff; a final one is the outcome, dead-lettered', async () => {
    f = await openFixture(adapter);
    const journal = newJournal();
    await f.host.start(counterAgent(journal), { id: 'w1' });
    const retried = await f.host.enqueue('w1', 'flaky', { failures: 1, retryable: true });
    await eventually(async () => (await f!.host.get('w1')).counters.failed === 1, 'the first attempt failed');
    expect((await f.queues.getTask(retried.id))?.state).toBe('queued'); // waiting for its retry
    await f.clock.advance(60_000);
    await eventually(async () => (await f!.host.get('w1')).counters.processed === 1, 'the retry succeeded');
    expect(journal.ran).toEqual(['flaky:1', 'flaky:2']);

    const final = await f.host.enqueue('w1', 'flaky', { failures: 1, retryable: false });
    // Its failure is the outcome, and the task is a dead letter an operator can see and retry.
    await eventually(async () => (await f!.queues.getTask(final.id))?.state === 'dead', 'dead-lettered');
    expect((await f.queues.getTask(final.id))?.lastError).toMatch(/flaky/);
    expect(journal.ran).toEqual(['flaky:1', 'flaky:2', 'flaky:1']);
    expect((await f.host.get('w1')).counters).toMatchObject({ processed: 1, failed: 2 });
  });
});
