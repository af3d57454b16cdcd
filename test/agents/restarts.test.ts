/**
 * A process that dies while it runs a task: the task stays leased to the agent's consumer and the
 * restarted process runs it; the dead process's late checkpoint is refused (fencing); a task whose
 * outcome was checkpointed before the death is recognized and not run again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentEvents } from '../../src/agents/index.js';
import { adapters } from '../support/stores.js';
import {
  counterAgent,
  eventually,
  gate,
  newJournal,
  openFixture,
  type Counter,
  type Fixture,
} from './support.js';

describe.each(adapters)('agent restarts mid-task on $name', (adapter) => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('the restarted process runs the task its predecessor died in; the dead one cannot checkpoint', async () => {
    f = await openFixture(adapter);
    const journal = newJournal();
    const held = gate();
    journal.hold = held.promise;
    await f.host.start(counterAgent(journal), { id: 'r1' });
    let starts = 0;
    journal.onWork = () => {
      starts++;
      if (starts === 1) f!.runtime.kill(f!.host.pidOf('r1')!); // dies with the task in hand
    };
    const task = await f.host.enqueue('r1', 'work', { label: 'x' });
    await eventually(() => f!.events.of('agent.started').length === 2, 'the restart');
    held.open();
    await eventually(async () => (await f!.host.get('r1')).counters.processed === 1, 'the task ran');
    await eventually(async () => (await f!.host.get('r1')).queue.running === 0, 'the task completed');
    expect(starts).toBe(2); // effects outside the store are at least once
    const info = await f.host.get('r1');
    expect((info.state as Counter).log).toEqual(['x']); // the checkpoint is exactly once
    expect(info.restarts).toBe(1);
    expect(await f.queues.getTask(task.id)).toBeUndefined();
  });

  it('a task whose outcome was checkpointed before its process died is not run again', async () => {
    f = await openFixture(adapter);
    const journal = newJournal();
    await f.host.start(counterAgent(journal), { id: 'r2' });
    let killed = false;
    f.events.hook = (name, payload) => {
      const action = payload as AgentEvents['agent.action'];
      if (name === 'agent.action' && action.taskId !== undefined && !killed) {
        killed = true;
        f!.runtime.kill(f!.host.pidOf('r2')!); // after the checkpoint, before the queue completes the task
      }
    };
    const task = await f.host.enqueue('r2', 'work', { label: 'once' });
    await eventually(async () => (await f!.queues.getTask(task.id)) === undefined, 'the task completed');
    expect(killed).toBe(true);
    expect(journal.ran).toEqual(['once']);
    const info = await f.host.get('r2');
    expect(info.counters.processed).toBe(1);
    expect(info.restarts).toBe(1);
    expect((info.state as Counter).log).toEqual(['once']);
  });
});
