/**
 * Work no live node can run is visible: `GET /v1/workflows/:id` of an unfinished run says
 * `waiting: no_live_node` ("no live node runs waiter") while no live node publishes the workflow in its
 * heartbeat's `serves`, and says nothing once one does. A down or draining node does not count. On
 * both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { joinCluster, setNodeState } from '../../src/node/membership.js';
import { servesOf } from '../../src/node/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, waiter, type Harness } from './support.js';

describe.each(adapters)('runs no live node serves on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a run of a workflow no live node registers shows why it waits; a node that runs it clears it', async () => {
    h = await startHarness(adapter);
    const run = await h.workflows.start(waiter, 1);
    const waitingOf = async () => {
      const reply = await call(h!.url, 'GET', `/v1/workflows/${run.workflowId}`);
      expect(reply.status).toBe(200);
      return (reply.json as { waiting?: unknown }).waiting;
    };
    const now = h.clock.now();
    // No node at all, then a node that runs other workflows only: nobody runs `waiter`.
    expect(await waitingOf()).toEqual({ reason: 'no_live_node', message: 'no live node runs waiter' });
    await joinCluster(h.store, 'node-other', now, { serves: servesOf([{ name: 'other' }], []) });
    expect(await waitingOf()).toEqual({ reason: 'no_live_node', message: 'no live node runs waiter' });
    // A node that runs it but is draining takes no new work; once it is up, the run has a node.
    await joinCluster(h.store, 'node-w', now, { serves: servesOf([waiter], [{ capabilities: ['x'] }]) });
    await setNodeState(h.store, 'node-w', 'draining', now);
    expect(await waitingOf()).toMatchObject({ reason: 'no_live_node' });
    await setNodeState(h.store, 'node-w', 'up', now);
    expect(await waitingOf()).toBeUndefined();
    // Its heartbeat goes silent past downAfterMs: down, and the run is unserved again.
    await h.clock.advance(10_000);
    expect(await waitingOf()).toMatchObject({ reason: 'no_live_node' });
  });
});
