/**
 * Actions: validated input (rejected before `run`, naming the field, nothing written), validated output,
 * directives applied atomically with the state checkpoint, and the state reloaded by a new process.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction, isAgentError } from '../../src/agents/index.js';
import { isGarrisonError } from '../../src/errors.js';
import { adapters } from '../support/stores.js';
import {
  counterAgent,
  eventually,
  gate,
  newJournal,
  openFixture,
  type Counter,
  type Fixture,
  type Journal,
} from './support.js';

describe.each(adapters)('actions on $name', (adapter) => {
  let f: Fixture;
  let journal: Journal;
  beforeEach(async () => {
    f = await openFixture(adapter);
    journal = newJournal();
    await f.host.start(counterAgent(journal), { id: 'c1' });
  });
  afterEach(async () => {
    await f.close();
  });

  it('invalid input is rejected before run with a ValidationError naming the field, and nothing is written', async () => {
    const before = await f.host.get('c1');
    const error = await f.host.call('c1', 'increment', { by: 'two' }).catch((e: unknown) => e);
    expect(isGarrisonError(error, 'invalid_input')).toBe(true);
    expect((error as Error).message).toContain('by');
    expect((error as { details: { fields: string[] } }).details.fields).toEqual(['by']);
    expect(journal.ran).toEqual([]);
    const after = await f.host.get('c1');
    expect(after.version).toBe(before.version);
    expect(after.counters).toEqual(before.counters);
  });

  it('an action with valid input runs, its state change is checkpointed and its output answered', async () => {
    expect(await f.host.call('c1', 'increment', { by: 2 })).toEqual({ count: 2 });
    expect(await f.host.call('c1', 'increment', { by: 3 })).toEqual({ count: 5 });
    const info = await f.host.get('c1');
    expect(info.state).toEqual({ count: 5, log: ['+2', '+3'] });
    expect(info.version).toBe(2);
    expect(info.counters.processed).toBe(2);
  });

  it('an invalid output is a typed invalid_output error; the state and directives are dropped, the failure counted', async () => {
    const error = await f.host.call('c1', 'bad_output', {}).catch((e: unknown) => e);
    expect(isAgentError(error, 'invalid_output')).toBe(true);
    expect((error as { details: { fields: string[] } }).details.fields).toEqual(['count']);
    const info = await f.host.get('c1');
    expect(info.state).toEqual({ count: 0, log: [] });
    expect(info.counters).toMatchObject({ processed: 0, failed: 1, consecutiveErrors: 1 });
    expect(info.status).toBe('error');
  });

  it('a state that fails the state schema is invalid_state and changes nothing', async () => {
    const error = await f.host.call('c1', 'bad_state', {}).catch((e: unknown) => e);
    expect(isAgentError(error, 'invalid_state')).toBe(true);
    expect((await f.host.get('c1')).state).toEqual({ count: 0, log: [] });
  });

  it('an action that throws fails with action_failed, keeps its cause, and is counted', async () => {
    const error = await f.host.call('c1', 'fail', { message: 'nope' }).catch((e: unknown) => e);
    expect(isAgentError(error, 'action_failed')).toBe(true);
    expect(((error as Error).cause as Error).message).toBe('nope');
    const info = await f.host.get('c1');
    expect(info.counters).toMatchObject({ failed: 1, consecutiveErrors: 1 });
    await f.host.call('c1', 'increment', { by: 1 });
    expect((await f.host.get('c1')).counters).toMatchObject({
      processed: 1,
      failed: 1,
      consecutiveErrors: 0,
    });
  });

  it('an unknown action is refused with unknown_action naming the actions there are', async () => {
    const error = await f.host.call('c1', 'dance', {}).catch((e: unknown) => e);
    expect(isAgentError(error, 'unknown_action')).toBe(true);
    expect((error as Error).message).toContain('increment');
  });

  it('a read-only action answers without writing a checkpoint', async () => {
    await f.host.call('c1', 'increment', { by: 4 });
    const before = await f.host.get('c1');
    expect(await f.host.call('c1', 'read', {})).toEqual({ count: 4 });
    const after = await f.host.get('c1');
    expect(after.version).toBe(before.version);
    expect(after.counters).toEqual(before.counters);
  });

  it('directives (state, follow-up work, a signal) commit together with the checkpoint', async () => {
    const held = gate(); // the follow-up work waits, so it can be seen in the queue
    journal.hold = held.promise;
    expect(await f.host.call('c1', 'follow_up', { labels: ['a', 'b'] })).toEqual({ queued: 2 });
    const info = await f.host.get('c1');
    expect((info.state as Counter).count).toBe(1);
    expect(info.queue.queued + info.queue.running).toBe(2);
    expect(f.events.of('agent.signal')).toEqual([
      expect.objectContaining({
        type: 'counter.followed_up',
        source: 'agent/c1',
        data: { labels: ['a', 'b'] },
      }),
    ]);
    held.open();
    await eventually(() => journal.ran.length === 2, 'the follow-up work ran');
    expect(journal.ran).toEqual(['a', 'b']);
  });

  it('a refused directive undoes the whole checkpoint: no state change, no task, the action failed', async () => {
    await f.host.start(counterAgent(newJournal(), 'other'), { id: 'c2' });
    await f.host.pause('c2');
    const error = await f.host.call('c1', 'follow_up', { to: 'c2', labels: ['x'] }).catch((e: unknown) => e);
    expect(isAgentError(error, 'agent_paused')).toBe(true);
    expect((await f.host.get('c1')).state).toEqual({ count: 0, log: [] });
    expect((await f.host.get('c1')).counters.failed).toBe(1);
    expect((await f.host.get('c2')).queue.queued).toBe(0);
    expect(f.events.of('agent.signal')).toEqual([]);
  });

  it("a new process reloads the agent's last checkpoint", async () => {
    await f.host.call('c1', 'increment', { by: 7 });
    const first = f.host.pidOf('c1');
    f.runtime.kill(first!);
    await eventually(() => f.host.pidOf('c1') !== undefined && f.host.pidOf('c1') !== first, 'a restart');
    expect(await f.host.call('c1', 'read', {})).toEqual({ count: 7 });
    expect(await f.host.call('c1', 'increment', { by: 1 })).toEqual({ count: 8 });
  });

  it('defineAction refuses a definition without schemas, and defineAgent duplicate action names', () => {
    expect(() =>
      defineAction({ name: 'x', input: {} as z.ZodType, output: z.null(), run: () => null }),
    ).toThrow(/input/);
    const a = defineAction({ name: 'same', input: z.object({}), output: z.null(), run: () => null });
    expect(() => counterAgent().actions.size).not.toThrow();
    expect(() =>
      defineAction({ name: 'bad name!', input: z.object({}), output: z.null(), run: () => null }),
    ).toThrow(/name/);
    expect(a.name).toBe('same');
  });
});
