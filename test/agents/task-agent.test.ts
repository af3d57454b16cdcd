/** The seed's task agent: typed tasks through their handlers, unknown types refused, counted per type. */
import { afterEach, describe, expect, it } from 'vitest';
import { defineTaskAgent, isAgentError, type TaskAgentState } from '../../src/agents/index.js';
import { adapters } from '../support/stores.js';
import { eventually, openFixture, type Fixture } from './support.js';

describe.each(adapters)('task agent on $name', (adapter) => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  const agent = () =>
    defineTaskAgent({
      handlers: {
        validation: (data) => ({ valid: typeof data === 'object' && data !== null }),
        transformation: (data) => String(data).toUpperCase(),
        analysis: () => {
          throw new Error('analysis is down');
        },
      },
    });

  it('runs queued tasks of known types through their handlers and counts them per type', async () => {
    f = await openFixture(adapter);
    await f.host.start(agent(), { id: 'tasks' });
    expect((await f.registry.get('tasks')).capabilities).toEqual([
      'task_processing',
      'validation',
      'transformation',
      'analysis',
    ]);
    await f.host.enqueue('tasks', 'process_task', { taskType: 'validation', data: { a: 1 }, taskId: 't1' });
    await f.host.enqueue('tasks', 'process_task', { taskType: 'transformation', data: 'abc' });
    await f.host.enqueue('tasks', 'process_task', { taskType: 'validation', data: null }, { priority: 9 });
    await eventually(async () => (await f!.host.get('tasks')).counters.processed === 3, 'three tasks');
    const state = await f.host.state<TaskAgentState>('tasks');
    expect(state.byType).toEqual({ validation: { processed: 2 }, transformation: { processed: 1 } });
    // t1 runs first (the agent was idle); which of the other two runs last depends on when the agent
    // claimed its next task, so only what both share is asserted.
    expect(state.lastTask).toMatchObject({ taskId: null });
    expect(['validation', 'transformation']).toContain(state.lastTask?.taskType);
    expect(await f.host.call('tasks', 'process_task', { taskType: 'transformation', data: 'x' })).toEqual({
      taskType: 'transformation',
      result: 'X',
    });
  });

  it('an unknown or unhandled task type is refused with invalid_input naming taskType; nothing is queued', async () => {
    f = await openFixture(adapter);
    await f.host.start(agent(), { id: 'tasks' });
    for (const taskType of ['juggling', 'notification']) {
      const error = await f.host
        .enqueue('tasks', 'process_task', { taskType, data: 1 })
        .catch((e: unknown) => e);
      expect((error as { code: string }).code).toBe('invalid_input');
      expect((error as { details: { fields: string[] } }).details.fields).toEqual(['taskType']);
    }
    expect((await f.host.get('tasks')).queue.queued).toBe(0);
  });

  it('failing tasks are counted and pause the agent after the configured number in a row', async () => {
    // One attempt per task: each failure is final, and distinct final failures make the streak.
    f = await openFixture(adapter, { maxAttempts: 1 });
    await f.host.start(agent(), { id: 'tasks', maxConsecutiveErrors: 2 });
    await f.host.enqueue('tasks', 'process_task', { taskType: 'analysis', data: 1 });
    await f.host.enqueue('tasks', 'process_task', { taskType: 'analysis', data: 2 });
    await eventually(async () => (await f!.host.get('tasks')).status === 'paused', 'paused');
    const info = await f.host.get('tasks');
    expect(info.counters).toMatchObject({ processed: 0, failed: 2 });
    const refused = await f.host
      .enqueue('tasks', 'process_task', { taskType: 'validation', data: {} })
      .catch((e: unknown) => e);
    expect(isAgentError(refused, 'agent_paused')).toBe(true);
  });

  it('a task agent needs at least one handler', () => {
    expect(() => defineTaskAgent({ handlers: {} })).toThrow(/at least one/);
  });
});
