/**
 * Consensus and barriers among the agents with a capability (`coord.capability`): the participants are
 * the registry's healthy agents with it at the start, fixed and durable; a participant gone or unhealthy
 * meanwhile counts as absent — a voter who will not vote (no_quorum once the rest cannot decide), an
 * arrival at a barrier. Both stores, virtual clock; fan-out-crash.test.ts kills a participant's node.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isCoordinationError } from '../../../src/coordination/index.js';
import { isGarrisonError } from '../../../src/errors.js';
import { createRegistry, type AgentRegistry } from '../../../src/registry/index.js';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes, type Scene } from './support.js';

describe.each(adapters)('capability-wide consensus and barriers on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  async function setUp(): Promise<{ scene: Scene; registry: AgentRegistry }> {
    const scene = await scenes.create(adapter);
    const registry = createRegistry({ store: scene.store, clock: scene.clock });
    const agents: Array<[string, string, 'healthy' | 'unhealthy']> = [
      ['r-1', 'review', 'healthy'],
      ['r-2', 'review', 'healthy'],
      ['r-3', 'review', 'healthy'],
      ['r-sick', 'review', 'unhealthy'],
      ['other', 'billing', 'healthy'],
    ];
    for (const [id, capability, health] of agents)
      await registry.register({ id, capabilities: [capability], health, node: 'n1', resources: {} });
    return { scene, registry };
  }

  it('a vote among the healthy agents with the capability, fixed at the start, is decided by a majority of them', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    const p = await coord.propose('review', 'ship-v2', {
      options: ['yes', 'no'],
      timeoutMs: 60_000,
      id: 'ship',
    });
    expect(p).toMatchObject({
      voters: ['r-1', 'r-2', 'r-3'],
      quorum: 2,
      capability: 'review',
      status: 'open',
    });
    // Registered after the start: not a participant.
    await registry.register({
      id: 'r-4',
      capabilities: ['review'],
      health: 'healthy',
      node: 'n1',
      resources: {},
    });
    expect(isCoordinationError(await rejectionOf(coord.vote('ship', 'r-4', 'yes')), 'not_a_voter')).toBe(
      true,
    );
    await coord.vote('ship', 'r-1', 'yes');
    const decided = await coord.vote('ship', 'r-3', 'yes');
    expect(decided).toMatchObject({ status: 'decided', decision: 'yes', absent: [] });
    // Another connection reads the same round.
    const other = scene.node('node-b', { registry, store: await scene.openStore() }).capability!;
    expect(await other.result('ship')).toMatchObject({ status: 'decided', voters: ['r-1', 'r-2', 'r-3'] });
  });

  it('a participant that turns unhealthy counts as absent: once the others cannot make the quorum, no_quorum, and a waiter hears it', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    await coord.propose('review', 'ship-v2', { options: ['yes', 'no'], timeoutMs: 600_000, id: 'ship' });
    const waiting = coord.awaitDecision('ship');
    await coord.vote('ship', 'r-1', 'yes');
    await coord.vote('ship', 'r-2', 'no');
    await registry.update('r-3', { health: 'unhealthy' });
    // Nobody votes again: the waiter's own look (at the latest after pollMs) applies the rule.
    const error = await drive(scene.clock, rejectionOf(waiting));
    expect(isCoordinationError(error, 'no_quorum')).toBe(true);
    expect(await coord.result('ship')).toMatchObject({ status: 'no_quorum', absent: ['r-3'] });
    expect(scene.clock.now()).toBeLessThan(Date.UTC(2026, 0, 1) + 600_000); // before the deadline
  });

  it('an absent participant does not stop a quorum the others can still make', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    await coord.propose('review', 'ship-v2', { options: ['yes', 'no'], timeoutMs: 600_000, id: 'ship' });
    await registry.unregister('r-2');
    expect(await coord.result('ship')).toMatchObject({ status: 'open', absent: ['r-2'] });
    await coord.vote('ship', 'r-1', 'yes');
    expect(await coord.vote('ship', 'r-3', 'yes')).toMatchObject({ status: 'decided', decision: 'yes' });
  });

  it('a barrier for the agents with the capability opens when every participant has arrived or is absent', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    expect(await coord.barrier('review', 'phase-2')).toMatchObject({
      participants: ['r-1', 'r-2', 'r-3'],
      parties: 3,
      arrived: 0,
      released: false,
    });
    expect(
      isCoordinationError(await rejectionOf(coord.arrive('phase-2', 'other')), 'not_a_participant'),
    ).toBe(true);
    const waiting = coord.wait('phase-2', { timeoutMs: 600_000 });
    await coord.arrive('phase-2', 'r-1');
    await coord.arrive('phase-2', 'r-3');
    await registry.update('r-2', { health: 'unhealthy' });
    const opened = await drive(scene.clock, waiting);
    expect(opened).toMatchObject({ released: true, arrived: 3, absent: ['r-2'] });
    // Creating it again returns the stored round, participants unchanged.
    await registry.update('r-2', { health: 'healthy' });
    expect(await coord.barrier('review', 'phase-2')).toMatchObject({ released: true, absent: ['r-2'] });
  });

  it('a waiter gives up with barrier_timeout while a present participant has not arrived', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    await coord.barrier('review', 'phase-3');
    await coord.arrive('phase-3', 'r-1');
    const error = await drive(scene.clock, rejectionOf(coord.wait('phase-3', { timeoutMs: 10_000 })));
    expect(isCoordinationError(error, 'barrier_timeout')).toBe(true);
  });

  it('no healthy agent with the capability is no_participants; bad input is invalid_input; nothing is written', async () => {
    const { scene, registry } = await setUp();
    const coord = scene.node('node-a', { registry }).capability!;
    expect(isCoordinationError(await rejectionOf(coord.barrier('nobody', 'b')), 'no_participants')).toBe(
      true,
    );
    expect(
      isCoordinationError(
        await rejectionOf(coord.propose('nobody', 't', { options: ['a'], timeoutMs: 1000, id: 'p' })),
        'no_participants',
      ),
    ).toBe(true);
    expect(
      isGarrisonError(
        await rejectionOf(coord.propose('review', 't', { options: [], timeoutMs: 1000 })),
        'invalid_input',
      ),
    ).toBe(true);
    expect(isCoordinationError(await rejectionOf(coord.barrierStatus('b')), 'round_not_found')).toBe(true);
    expect(isCoordinationError(await rejectionOf(coord.result('p')), 'round_not_found')).toBe(true);
  });
});
