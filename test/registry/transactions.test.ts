import { afterEach, describe, expect, it } from 'vitest';
import { AgentExistsError, type RegistryEvent, type RegistryTx } from '../../src/registry/index.js';
import { StoreError } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { dumpRegistry } from './support/dump.js';
import {
  agent,
  ids,
  openRegistry,
  openRegistryAt,
  rejectionOf,
  type RegistryFixture,
} from './support/fixtures.js';
import { STEPS, runSteps, seed } from './support/scenario.js';

/** The ways a step can fail. */
const FAILURES: ReadonlyArray<{
  readonly kind: string;
  inject(tx: RegistryTx, at: number): Promise<void>;
  check(error: Error & { code?: string }): void;
}> = [
  {
    kind: 'a thrown error',
    inject: async (_tx, at) => {
      throw new Error(`injected at step ${at}`);
    },
    check: (error) => expect(error.message).toMatch(/^injected at step \d+$/),
  },
  {
    // A real constraint violation raised by the database: a second row with a taken primary key.
    kind: 'a store constraint violation',
    inject: async (tx) => {
      await tx.sql.execute(
        'INSERT INTO garrison_agents (id, health, node, capabilities, resources, metadata, version, ' +
          "registered_at, updated_at) VALUES ('s1', 'healthy', 'n', '[]', '{}', '{}', 1, 0, 0)",
      );
    },
    check: (error) => {
      expect(error).toBeInstanceOf(StoreError);
      expect(error.code).toBe('constraint_violation');
    },
  },
  {
    kind: 'a registry error (duplicate id)',
    inject: async (tx) => {
      await tx.register(agent('s3'));
    },
    check: (error) => expect(error).toBeInstanceOf(AgentExistsError),
  },
];

describe.each(adapters)('registry transactions on $name', (adapter) => {
  const open: RegistryFixture[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((f) => f.store.close()));
  });
  const fixture = async (url?: string) => {
    const f = url === undefined ? await openRegistry(adapter) : await openRegistryAt(url);
    open.push(f);
    return f;
  };

  it(`a failure at any of the ${STEPS.length} steps, of any kind, leaves every registry table byte-identical`, async () => {
    expect(STEPS.length).toBeGreaterThanOrEqual(5);
    const f = await fixture();
    await seed(f.registry);
    const heard: RegistryEvent[] = [];
    f.registry.watch((e) => heard.push(e));
    const before = await dumpRegistry(f.store);
    expect(before.text).toContain('garrison_agent_capabilities');
    expect(before.text).toContain('garrison_agent_resources');
    let runs = 0;
    for (const failure of FAILURES) {
      // Position i fails after steps 0..i-1 have run; position STEPS.length fails after the last step.
      for (let at = 0; at <= STEPS.length; at++) {
        const error = await rejectionOf(
          f.registry.transaction(async (tx) => {
            await runSteps(tx, 0, at);
            await failure.inject(tx, at);
            await runSteps(tx, at);
          }),
        );
        failure.check(error);
        const after = await dumpRegistry(f.store);
        expect(after.hash, `${failure.kind} at step ${at}`).toBe(before.hash);
        runs++;
      }
    }
    expect(runs).toBe(FAILURES.length * (STEPS.length + 1));
    expect(heard).toEqual([]);
  });

  it('a hook that fails just before COMMIT leaves every registry table byte-identical', async () => {
    const f = await fixture();
    await seed(f.registry);
    const before = await dumpRegistry(f.store);
    const error = await rejectionOf(
      f.registry.transaction((tx) => runSteps(tx), {
        beforeCommit: () => {
          throw new Error('failed at commit');
        },
      }),
    );
    expect(error.message).toBe('failed at commit');
    expect((await dumpRegistry(f.store)).hash).toBe(before.hash);
  });

  it('with no failure, the tables equal the steps applied one by one, and every step is visible', async () => {
    const f = await fixture();
    await seed(f.registry);
    const before = await dumpRegistry(f.store);
    const heard: string[] = [];
    f.registry.watch((e) => heard.push(`${e.type}:${e.agent.id}`));
    await f.registry.transaction((tx) => runSteps(tx));
    const after = await dumpRegistry(f.store);
    expect(after.hash).not.toBe(before.hash);

    // The expected after-state: a second store, same seed, same clock, each step its own transaction.
    const reference = await fixture(adapter.freshUrl());
    await seed(reference.registry);
    for (const step of STEPS) await reference.registry.transaction((tx) => step.run(tx));
    expect(after.text).toBe((await dumpRegistry(reference.store)).text);

    expect(ids(await f.registry.list())).toEqual(['n1', 'n2', 's1', 's3']);
    expect(await f.registry.get('n1')).toMatchObject({ metadata: { fresh: false, level: 2 }, version: 2 });
    expect(await f.registry.get('s1')).toMatchObject({
      capabilities: ['alpha', 'epsilon'],
      health: 'degraded',
    });
    expect(await f.registry.countByCapability()).toEqual({
      alpha: 2,
      beta: 1,
      delta: 1,
      epsilon: 1,
      gamma: 1,
    });
    expect(heard).toEqual([
      'registered:n1',
      'updated:s1',
      'unregistered:s2',
      'updated:n1',
      'registered:n2',
      'updated:s3',
      'unregistered:s4',
    ]);
  });

  it('a transaction returns what its function returns', async () => {
    const f = await fixture();
    const result = await f.registry.transaction(async (tx) => (await tx.register(agent('a1'))).version);
    expect(result).toBe(1);
  });

  it('an operation that fails inside a transaction can be caught, and the transaction goes on', async () => {
    const f = await fixture();
    await f.registry.register(agent('a1'));
    await f.registry.transaction(async (tx) => {
      await tx.register(agent('a2'));
      await expect(tx.register(agent('a1', { node: 'other' }))).rejects.toBeInstanceOf(AgentExistsError);
      await expect(tx.update('ghost', { node: 'x' })).rejects.toMatchObject({ code: 'agent_not_found' });
      await tx.update('a1', { node: 'n2' });
    });
    expect(ids(await f.registry.list())).toEqual(['a1', 'a2']);
    expect((await f.registry.get('a1')).node).toBe('n2');
  });

  it('reads inside a transaction see its own uncommitted changes; others do not until it commits', async () => {
    const f = await fixture();
    await f.registry.transaction(async (tx) => {
      await tx.register(agent('a1', { capabilities: ['x'] }));
      expect(await tx.count()).toBe(1);
      expect(ids(await tx.query([{ path: 'capabilities', op: 'eq', value: 'x' }]))).toEqual(['a1']);
      expect(ids(await tx.list({ capability: 'x' }))).toEqual(['a1']);
      expect((await tx.get('a1')).id).toBe('a1');
      expect(await f.registry.lookup('a1')).toBeUndefined();
    });
    expect(await f.registry.lookup('a1')).toBeDefined();
  });

  it('within(tx) makes registry changes commit or roll back with the caller’s own writes', async () => {
    const f = await fixture();
    await f.store.execute('CREATE TABLE registry_test_notes (note TEXT NOT NULL)');
    await rejectionOf(
      f.store.transaction(async (tx) => {
        await f.registry.within(tx).register(agent('a1'));
        await tx.execute("INSERT INTO registry_test_notes (note) VALUES ('a1 registered')");
        throw new Error('roll back both');
      }),
    );
    expect(await f.registry.lookup('a1')).toBeUndefined();
    expect(await f.store.query('SELECT note FROM registry_test_notes')).toEqual([]);
    await f.store.transaction(async (tx) => {
      await f.registry.within(tx).register(agent('a1'));
      await tx.execute("INSERT INTO registry_test_notes (note) VALUES ('a1 registered')");
    });
    expect(await f.registry.lookup('a1')).toBeDefined();
    expect(await f.store.query('SELECT note FROM registry_test_notes')).toEqual([{ note: 'a1 registered' }]);
  });

  it('concurrent read-modify-write transactions on one agent, from two store handles, lose no update', async () => {
    const f = await fixture();
    const other = await fixture(f.url);
    await f.registry.register(agent('counter', { resources: { load: 0 } }));
    const rounds = 24;
    await Promise.all(
      Array.from({ length: rounds }, (_, i) =>
        (i % 2 === 0 ? f : other).registry.transaction(async (tx) => {
          const current = await tx.get('counter');
          await tx.update('counter', { resources: { load: (current.resources.load ?? 0) + 1 } });
        }),
      ),
    );
    const counter = await f.registry.get('counter');
    expect(counter.resources.load).toBe(rounds);
    expect(counter.version).toBe(rounds + 1);
  });

  it('two overlapping transactions updating the same agent serialize: both updates survive', async () => {
    const f = await fixture();
    const other = await fixture(f.url);
    await f.registry.register(agent('a1', { resources: { load: 0 }, metadata: {} }));
    let secondStarted!: () => void;
    const started = new Promise<void>((resolve) => (secondStarted = resolve));
    const first = f.registry.transaction(async (tx) => {
      const a = await tx.get('a1');
      // Where the store allows concurrent writers, hold the row while the other transaction starts, so
      // the two really overlap; SQLite admits one writer at a time, so the other cannot start yet.
      if (f.store.capabilities.multiWriter) await started;
      await tx.update('a1', {
        resources: { load: (a.resources.load ?? 0) + 1 },
        metadata: { ...a.metadata, first: true },
      });
    });
    const second = other.registry.transaction(async (tx) => {
      secondStarted();
      const a = await tx.get('a1');
      await tx.update('a1', {
        resources: { load: (a.resources.load ?? 0) + 10 },
        metadata: { ...a.metadata, second: true },
      });
    });
    await Promise.all([first, second]);
    const a1 = await f.registry.get('a1');
    expect(a1.resources.load).toBe(11);
    expect(a1.metadata).toEqual({ first: true, second: true });
    expect(a1.version).toBe(3);
  });

  it('two transactions registering the same id: exactly one wins, the other gets agent_exists', async () => {
    const f = await fixture();
    const other = await fixture(f.url);
    for (let round = 0; round < 5; round++) {
      const id = `contested-${round}`;
      let secondStarted!: () => void;
      const started = new Promise<void>((resolve) => (secondStarted = resolve));
      const outcomes = await Promise.allSettled([
        f.registry.transaction(async (tx) => {
          await tx.register(agent(id, { node: 'first' }));
          if (f.store.capabilities.multiWriter) await started;
          await tx.register(agent(`${id}-extra-first`));
          return 'first';
        }),
        other.registry.transaction(async (tx) => {
          secondStarted();
          await tx.register(agent(id, { node: 'second' }));
          await tx.register(agent(`${id}-extra-second`));
          return 'second';
        }),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o) => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(AgentExistsError);
      const winner = (won[0] as PromiseFulfilledResult<string>).value;
      const loser = winner === 'first' ? 'second' : 'first';
      expect((await f.registry.get(id)).node).toBe(winner);
      expect(await f.registry.lookup(`${id}-extra-${winner}`)).toBeDefined();
      // The losing transaction rolled back whole: its other registration is not there either.
      expect(await f.registry.lookup(`${id}-extra-${loser}`)).toBeUndefined();
    }
  });
});
