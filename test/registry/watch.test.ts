import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryEvent } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { agent, openRegistry, rejectionOf, type RegistryFixture } from './support/fixtures.js';

/** A listener that records what it hears as `type:id` (and `:reason` for removals). */
function recorder() {
  const heard: string[] = [];
  const events: RegistryEvent[] = [];
  const listener = (event: RegistryEvent) => {
    events.push(event);
    heard.push(`${event.type}:${event.agent.id}${event.type === 'unregistered' ? `:${event.reason}` : ''}`);
  };
  return { heard, events, listener };
}

describe.each(adapters)('registry watch on $name', (adapter) => {
  let f: RegistryFixture;
  afterEach(async () => {
    await f.store.close();
  });

  it('watchers hear of every committed register, update and unregister, in order, with the agent', async () => {
    f = await openRegistry(adapter);
    const r = recorder();
    f.registry.watch(r.listener);
    await f.registry.register(agent('a1'));
    await f.registry.update('a1', { node: 'n9' });
    await f.registry.unregister('a1');
    await f.registry.registerMany([agent('b1'), agent('b2')]);
    expect(r.heard).toEqual([
      'registered:a1',
      'updated:a1',
      'unregistered:a1:requested',
      'registered:b1',
      'registered:b2',
    ]);
    const updated = r.events[1];
    expect(updated?.type === 'updated' && updated.previous.node).toBe('node-a');
    expect(updated?.agent.node).toBe('n9');
    expect(r.events[2]?.agent).toEqual({ ...updated?.agent });
  });

  it('an unregister reason is carried in the event; unregisterProcess reports each agent', async () => {
    f = await openRegistry(adapter);
    await f.registry.registerMany([
      agent('a1', { process: 'p1' }),
      agent('a2', { process: 'p1' }),
      agent('a3'),
    ]);
    const r = recorder();
    f.registry.watch(r.listener);
    await f.registry.unregister('a3', { reason: 'drained' });
    await f.registry.unregisterProcess('p1', { reason: 'process_exited' });
    expect(r.heard).toEqual([
      'unregistered:a3:drained',
      'unregistered:a1:process_exited',
      'unregistered:a2:process_exited',
    ]);
  });

  it('events of a transaction arrive only after it commits', async () => {
    f = await openRegistry(adapter);
    const r = recorder();
    f.registry.watch(r.listener);
    const heardInside: string[][] = [];
    await f.registry.transaction(async (tx) => {
      await tx.register(agent('a1'));
      await tx.update('a1', { health: 'degraded' });
      heardInside.push([...r.heard]);
    });
    expect(heardInside).toEqual([[]]);
    expect(r.heard).toEqual(['registered:a1', 'updated:a1']);
  });

  it('a transaction that rolls back sends no event at all', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1'));
    const r = recorder();
    f.registry.watch(r.listener);
    const error = await rejectionOf(
      f.registry.transaction(async (tx) => {
        await tx.register(agent('a2'));
        await tx.unregister('a1');
        throw new Error('changed my mind');
      }),
    );
    expect(error.message).toBe('changed my mind');
    expect(r.heard).toEqual([]);
  });

  it('a failed operation caught inside a transaction sends no event; the others still do', async () => {
    f = await openRegistry(adapter);
    await f.registry.register(agent('a1'));
    const r = recorder();
    f.registry.watch(r.listener);
    await f.registry.transaction(async (tx) => {
      await tx.register(agent('a2'));
      await expect(tx.register(agent('a1'))).rejects.toMatchObject({ code: 'agent_exists' });
      await expect(
        tx.savepoint(async (inner) => {
          await inner.register(agent('a3'));
          throw new Error('undo a3');
        }),
      ).rejects.toThrow('undo a3');
      await tx.update('a1', { node: 'n2' });
    });
    expect(r.heard).toEqual(['registered:a2', 'updated:a1']);
    expect(await f.registry.lookup('a3')).toBeUndefined();
  });

  it('after unsubscribing, a watcher hears nothing more', async () => {
    f = await openRegistry(adapter);
    const r = recorder();
    const stop = f.registry.watch(r.listener);
    await f.registry.register(agent('a1'));
    stop();
    stop();
    await f.registry.register(agent('a2'));
    expect(r.heard).toEqual(['registered:a1']);
  });

  it('a watcher that throws neither undoes the commit nor keeps the event from other watchers', async () => {
    f = await openRegistry(adapter);
    const r = recorder();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      f.registry.watch(() => {
        throw new Error('bad watcher');
      });
      f.registry.watch(r.listener);
      const registered = await f.registry.register(agent('a1'));
      expect(registered.id).toBe('a1');
      expect(r.heard).toEqual(['registered:a1']);
      expect(await f.registry.lookup('a1')).toBeDefined();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes('bad watcher'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
