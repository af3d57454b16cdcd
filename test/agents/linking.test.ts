/**
 * Agents linked to their processes (issue 3): a process that is restarted keeps its registry entry
 * (degraded while it restarts, healthy again with the restart counted); a process that is not restarted
 * — temporary, past the restart intensity, stopped — has its entry removed in a committed transaction,
 * and an event says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/agents/index.js';
import type { Health, RegistryEvent } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { counterAgent, eventually, openFixture, type Fixture } from './support.js';

describe.each(adapters)('agents linked to their processes on $name', (adapter) => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('a running agent is registered with its capabilities, node and process', async () => {
    f = await openFixture(adapter);
    await f.host.start(counterAgent(), { id: 'c1' });
    const entry = await f.registry.get('c1');
    expect(entry).toMatchObject({
      type: 'counter',
      capabilities: ['counting', 'work'],
      health: 'healthy',
      node: 'node-a',
    });
    expect(entry.process).toContain(`/${f.host.pidOf('c1')!.id}`);
    expect(await f.registry.findCapableHealthy('counting')).toHaveLength(1);
  });

  it('a restarted process keeps the registry entry: degraded while restarting, then healthy with the restart counted', async () => {
    f = await openFixture(adapter);
    await f.host.start(counterAgent(), { id: 'c1' });
    await f.host.call('c1', 'increment', { by: 3 });
    const healths: Health[] = [];
    f.registry.watch((e: RegistryEvent) => {
      if (e.agent.id === 'c1' && e.type !== 'unregistered') healths.push(e.agent.health);
    });
    const first = f.host.pidOf('c1')!;
    const firstProcess = (await f.registry.get('c1')).process;
    f.runtime.exit(first, { error: new Error('crash') });
    await eventually(
      async () => (await f!.registry.get('c1')).metadata.restarts === 1,
      'the restart counted',
    );
    const entry = await f.registry.get('c1');
    expect(entry.health).toBe('healthy');
    expect(entry.process).not.toBe(firstProcess);
    expect(healths).toEqual(['degraded', 'healthy']);
    expect(f.events.of('agent.restarting')).toEqual([
      expect.objectContaining({ agentId: 'c1', processId: firstProcess, reason: 'error: crash' }),
    ]);
    expect(f.events.of('agent.started').map((e) => [e.restarted, e.restarts])).toEqual([
      [false, 0],
      [true, 1],
    ]);
    expect(f.events.of('agent.exited')).toEqual([]);
    expect((await f.host.get('c1')).restarts).toBe(1);
    expect(await f.host.call('c1', 'read', {})).toEqual({ count: 3 });
  });

  it('a temporary agent whose process dies is unregistered in a committed transaction and agent.exited is emitted', async () => {
    f = await openFixture(adapter);
    await f.host.start(counterAgent(), { id: 't1', restart: 'temporary' });
    const processId = (await f.registry.get('t1')).process;
    f.runtime.exit(f.host.pidOf('t1')!, { error: new Error('gone') });
    await eventually(() => f!.events.of('agent.exited').length === 1, 'agent.exited');
    expect(await f.registry.lookup('t1')).toBeUndefined();
    expect(f.events.of('agent.exited')[0]).toEqual({
      agentId: 't1',
      processId,
      reason: 'error: gone',
      unregistered: true,
    });
    expect(f.events.of('agent.restarting')).toEqual([]);
    const info = await f.host.get('t1');
    expect(info).toMatchObject({ lifecycle: 'exited', running: false });
    const error = await f.host.call('t1', 'read', {}).catch((e: unknown) => e);
    expect(isAgentError(error, 'agent_not_running')).toBe(true);
  });

  it('a transient agent is restarted after a crash but not after a normal exit', async () => {
    f = await openFixture(adapter);
    await f.host.start(counterAgent(), { id: 'tr', restart: 'transient' });
    f.runtime.exit(f.host.pidOf('tr')!, { error: new Error('crash') });
    await eventually(() => f!.events.of('agent.started').length === 2, 'a restart');
    await f.runtime.stop(f.host.pidOf('tr')!, 'normal');
    await eventually(() => f!.events.of('agent.exited').length === 1, 'agent.exited');
    expect(await f.registry.lookup('tr')).toBeUndefined();
  });

  it('past the restart intensity the supervisor gives up: every agent it ran is unregistered, and the host refuses work', async () => {
    f = await openFixture(adapter, { supervisor: { maxRestarts: 1, periodMs: 60_000 } });
    await f.host.start(counterAgent(), { id: 'a1' });
    await f.host.start(counterAgent(), { id: 'a2' });
    f.runtime.kill(f.host.pidOf('a1')!);
    await eventually(() => f!.events.of('agent.started').length === 3, 'the first restart');
    f.runtime.kill(f.host.pidOf('a1')!);
    await eventually(() => f!.events.of('agent.exited').length === 2, 'both agents exited');
    expect(await f.registry.list()).toEqual([]);
    expect(
      f.events
        .of('agent.exited')
        .map((e) => [e.agentId, e.unregistered])
        .sort(),
    ).toEqual([
      ['a1', true],
      ['a2', true],
    ]);
    expect((await f.host.get('a1')).lifecycle).toBe('exited');
    const error = await f.host.start(counterAgent(), { id: 'a3' }).catch((e: unknown) => e);
    expect(isAgentError(error, 'host_stopped')).toBe(true);
  });

  it('a stopped agent is unregistered and recorded as stopped; starting it again carries on from its state', async () => {
    f = await openFixture(adapter);
    await f.host.start(counterAgent(), { id: 's1' });
    await f.host.call('s1', 'increment', { by: 5 });
    await f.host.stop('s1');
    expect(await f.registry.lookup('s1')).toBeUndefined();
    expect(f.events.of('agent.stopped')).toEqual([{ agentId: 's1' }]);
    expect(f.events.of('agent.exited')).toEqual([]);
    expect((await f.host.get('s1')).lifecycle).toBe('stopped');
    await f.host.start(counterAgent(), { id: 's1' });
    expect(await f.host.call('s1', 'increment', { by: 1 })).toEqual({ count: 6 });
    expect((await f.registry.get('s1')).health).toBe('healthy');
  });

  it('a host shutdown unregisters its agents but keeps them running in the store; the next host resumes them', async () => {
    f = await openFixture(adapter, { definitions: [counterAgent()] });
    await f.host.start(counterAgent(), { id: 'r1' });
    await f.host.call('r1', 'increment', { by: 2 });
    await f.host.shutdown();
    expect(await f.registry.lookup('r1')).toBeUndefined();
    expect((await f.host.get('r1')).lifecycle).toBe('running');
    const next = await f.reopen();
    expect(next.resumed).toEqual(['r1']);
    expect((await f.registry.get('r1')).health).toBe('healthy');
    expect(await next.call('r1', 'increment', { by: 1 })).toEqual({ count: 3 });
  });

  it('an agent registered on another node is not started here', async () => {
    f = await openFixture(adapter);
    await f.registry.register({
      id: 'x1',
      capabilities: ['counting'],
      health: 'healthy',
      node: 'node-b',
      resources: {},
    });
    const error = await f.host.start(counterAgent(), { id: 'x1' }).catch((e: unknown) => e);
    expect(isAgentError(error, 'agent_running_elsewhere')).toBe(true);
    expect((await f.registry.get('x1')).node).toBe('node-b');
    expect(f.host.pidOf('x1')).toBeUndefined();
  });
});
