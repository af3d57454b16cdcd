/**
 * Deterministic simulation over the queue's and the workflows' invariants (see sim.ts and
 * sim-workflows.ts): a thousand seeds of each at CI size, each a different run of work, workers or
 * engines, store faults (before, after and inside a transaction), crashes and pauses on the virtual clock.
 * Queue: every acknowledged task completes, nothing unexpected appears, no task is reported completed
 * twice or under a stale token. Workflows: every acknowledged run completes with the right output, one
 * journal entry per step in order, a transaction step's effect exactly once, no step before its
 * predecessor was journaled. A failing seed prints itself; `GARRISON_CHAOS_SEED=<n>` runs just that seed
 * and prints its trace, and a seed replays to the identical trace. Each kind has its own test file
 * (simulation-queue, simulation-workflows), so the two run side by side.
 */
import { describe, expect, it } from 'vitest';
import { expectClean, History } from './history.js';
import { simulateWorkflows } from './sim-workflows.js';
import { scaled } from './support.js';
import { simulate, type SimulationResult } from './sim.js';

const SEEDS = scaled(1000);
const only = process.env.GARRISON_CHAOS_SEED;

const kinds = [
  {
    name: 'queue',
    items: 'tasks',
    run: simulate,
    promise:
      'nothing acknowledged lost, nothing unexpected, no completion reported twice or under a stale token',
  },
  {
    name: 'workflows',
    items: 'workflows',
    run: simulateWorkflows,
    promise:
      'every acknowledged run completes with its output, one journal entry per step in order, transaction effects exactly once',
  },
] as const;

/** Declares the simulation of one kind: its seeds, and a seed's replay. */
export function describeSimulation(name: (typeof kinds)[number]['name']): void {
  const kind = kinds.find((k) => k.name === name)!;
  describe(`deterministic simulation of the ${kind.name}`, () => {
    function describeFailure(result: SimulationResult): string {
      return [
        `seed ${result.seed} failed (replay: GARRISON_CHAOS_SEED=${result.seed} npx vitest run test/chaos/simulation-${kind.name}.test.ts)`,
        ...result.violations.slice(0, 10).map((v) => `  ${v}`),
      ].join('\n');
    }

    it(
      only === undefined
        ? `${SEEDS} seeds of store faults, crashes and pauses on the virtual clock: ${kind.promise}`
        : `seed ${only}`,
      { timeout: 600_000 },
      async () => {
        const seeds = only === undefined ? Array.from({ length: SEEDS }, (_, i) => i + 1) : [Number(only)];
        const history = new History(
          `deterministic simulation of the ${kind.name} (sqlite in memory, ${seeds.length} seeds)`,
        );
        history.watch('seed failed');
        const failures: string[] = [];
        const figures = { items: 0, effects: 0 };
        for (const seed of seeds) {
          const result = await kind.run(seed);
          history.ask(`seed ${seed}`);
          history.acknowledge(`seed ${seed}`);
          history.observe(`seed ${seed}`);
          history.fault('store fault', result.figures.faults);
          history.fault('crash', result.figures.crashes);
          history.fault('pause past the lease', result.figures.pauses);
          figures.items += result.figures.tasks;
          figures.effects += result.figures.effects;
          if (result.violations.length > 0) {
            history.violation('seed failed', String(seed));
            failures.push(describeFailure(result));
          }
          if (only !== undefined) console.log(result.trace.join('\n'));
        }
        history.figure(kind.items, figures.items);
        history.figure('step or handler runs', figures.effects);
        if (failures.length > 0) console.log(failures.slice(0, 5).join('\n'));
        expectClean(history.check({ evidence: 'observed', duplicates: 'forbidden' }));
      },
    );

    it('a seed replays to the identical trace', async () => {
      for (const seed of [1, 7, 1000]) {
        const first = await kind.run(seed);
        const again = await kind.run(seed);
        expect(again.trace.length).toBe(first.trace.length);
        expect(again.digest).toBe(first.digest);
        expect(first.figures.faults + first.figures.crashes).toBeGreaterThan(0);
      }
    });
  });
}
