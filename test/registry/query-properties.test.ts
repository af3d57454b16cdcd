import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from '../support/stores.js';
import { agents, agentsAndQueries, criterion } from './support/arbitraries.js';
import { ids, openRegistry, type RegistryFixture } from './support/fixtures.js';
import { compareCodePoints, referenceQuery } from './support/reference-query.js';

describe.each(adapters)('registry query properties on $name', (adapter) => {
  let f: RegistryFixture;
  beforeAll(async () => {
    f = await openRegistry(adapter);
  });
  afterAll(async () => {
    await f.store.close();
  });

  async function clear(): Promise<void> {
    await f.store.transaction(async (tx) => {
      await tx.execute('DELETE FROM garrison_agent_capabilities');
      await tx.execute('DELETE FROM garrison_agent_resources');
      await tx.execute('DELETE FROM garrison_agents');
    });
  }

  it('for random agents and random criteria, the SQL query returns exactly what the reference returns', async () => {
    await fc.assert(
      fc.asyncProperty(agentsAndQueries, async ([inputs, queries]) => {
        await clear();
        const registered = await f.registry.registerMany(inputs);
        // What the store hands back is what was registered (so the reference sees the stored agents).
        expect(await f.registry.list()).toEqual(
          [...registered].sort((a, b) => compareCodePoints(a.id, b.id)),
        );
        for (const criteria of queries) {
          expect(ids(await f.registry.query(criteria)), JSON.stringify(criteria)).toEqual(
            referenceQuery(registered, criteria),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('neq and not_in partition the agents with eq and in: every agent is in exactly one side', async () => {
    await fc.assert(
      fc.asyncProperty(agents, criterion, async (inputs, c) => {
        if (c.op !== 'eq' && c.op !== 'in') return;
        await clear();
        await f.registry.registerMany(inputs);
        const positive = ids(await f.registry.query([c]));
        const negative = ids(await f.registry.query([{ ...c, op: c.op === 'eq' ? 'neq' : 'not_in' }]));
        expect([...positive, ...negative].sort(compareCodePoints)).toEqual(
          inputs.map((a) => a.id).sort(compareCodePoints),
        );
      }),
      { numRuns: 40 },
    );
  });
});
