import { afterEach, describe, expect, it } from 'vitest';
import { adapters } from '../../support/stores.js';
import { drive, rejectionOf, Scenes } from './support.js';

const VOTERS = ['v1', 'v2', 'v3', 'v4', 'v5'];

describe.each(adapters)('consensus on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('is decided by the vote that brings one option to the quorum; anyone on another connection reads the decision', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const p = await a.consensus.propose('deploy', {
      options: ['yes', 'no'],
      voters: VOTERS,
      timeoutMs: 60_000,
    });
    expect(p).toMatchObject({ status: 'open', quorum: 3, tally: { yes: 0, no: 0 }, decision: undefined });
    const decided = b.consensus.awaitDecision(p.id);
    await a.consensus.vote(p.id, 'v1', 'yes');
    await b.consensus.vote(p.id, 'v2', 'no');
    expect(await a.consensus.vote(p.id, 'v3', 'yes')).toMatchObject({
      status: 'open',
      tally: { yes: 2, no: 1 },
    });
    const last = await b.consensus.vote(p.id, 'v4', 'yes');
    expect(last).toMatchObject({ status: 'decided', decision: 'yes', closedAt: scene.clock.now() });
    expect(await drive(scene.clock, decided)).toMatchObject({ status: 'decided', decision: 'yes' });
    const read = await b.consensus.result(p.id);
    expect(read).toMatchObject({ status: 'decided', decision: 'yes', tally: { yes: 3, no: 1 } });
    expect(read.votes.map((v) => v.voter)).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect((await rejectionOf(a.consensus.vote(p.id, 'v5', 'no'))).code).toBe('proposal_closed');
  });

  it('a second vote by the same voter is rejected with duplicate_vote; the first stands', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const p = await a.consensus.propose('t', { options: ['x', 'y'], voters: VOTERS, timeoutMs: 60_000 });
    await a.consensus.vote(p.id, 'v1', 'x');
    for (const choice of ['y', 'x']) {
      expect(await rejectionOf(a.consensus.vote(p.id, 'v1', choice))).toMatchObject({
        code: 'duplicate_vote',
        details: { voter: 'v1', recorded: 'x' },
      });
    }
    expect(await a.consensus.result(p.id)).toMatchObject({ tally: { x: 1, y: 0 }, status: 'open' });
  });

  it('duplicate votes racing on two connections: exactly one is recorded', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const p = await a.consensus.propose('t', { options: ['x', 'y'], voters: VOTERS, timeoutMs: 60_000 });
    const outcomes = await Promise.allSettled([
      a.consensus.vote(p.id, 'v1', 'x'),
      b.consensus.vote(p.id, 'v1', 'y'),
      a.consensus.vote(p.id, 'v1', 'y'),
      b.consensus.vote(p.id, 'v1', 'x'),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect((o.reason as { code: string }).code).toBe('duplicate_vote');
    }
    expect((await a.consensus.result(p.id)).votes).toHaveLength(1);
  });

  it('concurrent votes on two connections are all counted and decide exactly once', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const voters = Array.from({ length: 12 }, (_, i) => `v${i}`);
    const p = await a.consensus.propose('t', { options: ['x', 'y'], voters, quorum: 6, timeoutMs: 60_000 });
    const outcomes = await Promise.allSettled(
      voters.map((v, i) => (i % 2 === 0 ? a : b).consensus.vote(p.id, v, 'x')),
    );
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
    // The sixth vote decides; the votes counted after it find the proposal closed.
    expect(fulfilled).toHaveLength(6);
    expect(fulfilled.filter((r) => r.status === 'decided')).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect((o.reason as { code: string }).code).toBe('proposal_closed');
    }
    expect(await b.consensus.result(p.id)).toMatchObject({
      status: 'decided',
      decision: 'x',
      tally: { x: 6 },
    });
  });

  it('the deadline passes: the outcome is timeout for every reader, awaitDecision rejects with consensus_timeout, a late vote is refused', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const b = scene.node('node-b', { store: await scene.openStore() });
    const p = await a.consensus.propose('t', { options: ['x', 'y'], voters: VOTERS, timeoutMs: 10_000 });
    await a.consensus.vote(p.id, 'v1', 'x');
    const waiting = b.consensus.awaitDecision(p.id);
    const error = await rejectionOf(drive(scene.clock, waiting));
    expect(error).toMatchObject({ code: 'consensus_timeout', details: { deadlineAt: p.deadlineAt } });
    expect(scene.clock.now()).toBe(p.deadlineAt);
    expect(await a.consensus.result(p.id)).toMatchObject({
      status: 'timeout',
      decision: undefined,
      closedAt: p.deadlineAt,
      tally: { x: 1, y: 0 },
    });
    expect(await rejectionOf(a.consensus.vote(p.id, 'v2', 'x'))).toMatchObject({
      code: 'proposal_closed',
      details: { status: 'timeout' },
    });
  });

  it('a vote after the deadline, before anyone looked, commits the timeout and is refused', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const p = await a.consensus.propose('t', { options: ['x'], voters: VOTERS, timeoutMs: 1000 });
    await scene.clock.advance(1000);
    expect(await rejectionOf(a.consensus.vote(p.id, 'v1', 'x'))).toMatchObject({
      code: 'proposal_closed',
      details: { status: 'timeout' },
    });
    const rows = await scene.store.query<{ status: string }>(
      'SELECT status FROM garrison_coord_proposals WHERE id = $1',
      [p.id],
    );
    expect(rows).toEqual([{ status: 'timeout' }]);
    expect((await a.consensus.result(p.id)).votes).toEqual([]);
  });

  it('no_quorum when the voters left cannot bring any option to the quorum', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const p = await a.consensus.propose('t', {
      options: ['x', 'y'],
      voters: ['v1', 'v2', 'v3', 'v4'],
      quorum: 3,
      timeoutMs: 60_000,
    });
    const waiting = a.consensus.awaitDecision(p.id);
    await a.consensus.vote(p.id, 'v1', 'x');
    await a.consensus.vote(p.id, 'v2', 'y');
    expect(await a.consensus.vote(p.id, 'v3', 'y')).toMatchObject({ status: 'open' });
    const closed = await a.consensus.vote(p.id, 'v4', 'x');
    expect(closed).toMatchObject({ status: 'no_quorum', tally: { x: 2, y: 2 } });
    expect((await rejectionOf(waiting)).code).toBe('no_quorum');
  });

  it('an open vote (no voter list) is decided by its quorum, and a voter outside a list is not_a_voter', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const open = await a.consensus.propose('t', { options: ['x', 'y'], quorum: 2, timeoutMs: 60_000 });
    await a.consensus.vote(open.id, 'anyone', 'y');
    expect(await a.consensus.vote(open.id, 'someone', 'y')).toMatchObject({
      status: 'decided',
      decision: 'y',
    });

    const closed = await a.consensus.propose('t', { options: ['x', 'y'], voters: ['v1'], timeoutMs: 60_000 });
    expect(closed.quorum).toBe(1);
    expect((await rejectionOf(a.consensus.vote(closed.id, 'intruder', 'x'))).code).toBe('not_a_voter');
    expect((await rejectionOf(a.consensus.vote(closed.id, 'v1', 'z'))).code).toBe('invalid_choice');
    expect((await rejectionOf(a.consensus.vote('missing', 'v1', 'x'))).code).toBe('proposal_not_found');
    expect((await rejectionOf(a.consensus.result('missing'))).code).toBe('proposal_not_found');
    expect((await a.consensus.result(closed.id)).votes).toEqual([]);
  });

  it('votes survive a restart, and proposing again with the same id returns the stored proposal', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const p = await a.consensus.propose('release', {
      id: 'r-17',
      options: ['go', 'hold'],
      voters: VOTERS,
      timeoutMs: 60_000,
    });
    await a.consensus.vote('r-17', 'v1', 'go');
    await a.consensus.vote('r-17', 'v2', 'go');
    await a.close();

    const b = scene.node('node-b', { store: await scene.openStore() });
    const again = await b.consensus.propose('release', {
      id: 'r-17',
      options: ['other'],
      voters: ['z'],
      timeoutMs: 5,
    });
    expect(again).toMatchObject({
      id: 'r-17',
      options: ['go', 'hold'],
      deadlineAt: p.deadlineAt,
      tally: { go: 2 },
    });
    expect(
      await rejectionOf(
        b.consensus.propose('another topic', { id: 'r-17', options: ['x'], quorum: 1, timeoutMs: 5 }),
      ),
    ).toMatchObject({
      code: 'proposal_exists',
    });
    expect(await b.consensus.vote('r-17', 'v3', 'go')).toMatchObject({ status: 'decided', decision: 'go' });
  });

  it('bad proposals and votes are refused with invalid_input and change nothing', async () => {
    const scene = await scenes.create(adapter);
    const a = scene.node('node-a');
    const bad: Array<() => Promise<unknown>> = [
      () => a.consensus.propose('', { options: ['x'], quorum: 1, timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: [], quorum: 1, timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: ['x', 'x'], quorum: 1, timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: ['x'], timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: ['x'], voters: ['a', 'a'], timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: ['x'], voters: ['a'], quorum: 2, timeoutMs: 10 }),
      () => a.consensus.propose('t', { options: ['x'], quorum: 1, timeoutMs: 0 }),
      () => a.consensus.vote('', 'v', 'x'),
      () => a.consensus.vote('p', '', 'x'),
    ];
    for (const p of bad) expect((await rejectionOf(p())).code).toBe('invalid_input');
    const rows = await scene.store.query('SELECT id FROM garrison_coord_proposals');
    expect(rows).toEqual([]);
  });
});
