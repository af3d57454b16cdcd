/**
 * Deterministic simulation over the queue's invariants (see sim.ts): a thousand seeds at CI size, each a
 * different run of tasks, workers, store faults (before, after and inside a transaction) and crashes on
 * the virtual clock. Every acknowledged task completes, nothing unexpected appears, no task is reported
 * completed twice or under a stale token. A failing seed prints itself; `GARRISON_CHAOS_SEED=<n>` runs
 * just that seed and prints its trace, and a seed replays to the identical trace.
 */
import { describe, expect, it } from 'vitest';
import { expectClean, History } from './history.js';
import { scaled } from './support.js';
import { simulate, type SimulationResult } from './sim.js';

const SEEDS = scaled(1000);
const only = process.env.GARRISON_CHAOS_SEED;

function describeFailure(result: SimulationResult): string {
  return [
    `seed ${result.seed} failed (replay: GARRISON_CHAOS_SEED=${result.seed} npx vitest run test/chaos/simulation.test.ts)`,
    ...result.violations.slice(0, 10).map((v) => `  ${v}`),
  ].join('\n');
}

describe('deterministic simulation of the queue', () => {
  it(
    only === undefined
      ? `${SEEDS} seeds of tasks, workers, store faults and crashes on the virtual clock: nothing acknowledged lost, nothing unexpected, no completion reported twice or under a stale token`
      : `seed ${only}`,
    { timeout: 600_000 },
    async () => {
      const seeds = only === undefined ? Array.from({ length: SEEDS }, (_, i) => i + 1) : [Number(only)];
      const history = new History(`deterministic simulation (sqlite in memory, ${seeds.length} seeds)`);
      history.watch('seed failed');
      const failures: string[] = [];
      const figures = { tasks: 0, crashes: 0, effects: 0 };
      for (const seed of seeds) {
        const result = await simulate(seed);
        history.ask(`seed ${seed}`);
        history.acknowledge(`seed ${seed}`);
        history.observe(`seed ${seed}`);
        history.fault('store fault', result.figures.faults);
        history.fault('crash', result.figures.crashes);
        history.fault('pause past the lease', result.figures.pauses);
        figures.tasks += result.figures.tasks;
        figures.effects += result.figures.effects;
        if (result.violations.length > 0) {
          history.violation('seed failed', String(seed));
          failures.push(describeFailure(result));
        }
        if (only !== undefined) console.log(result.trace.join('\n'));
      }
      history.figure('tasks', figures.tasks);
      history.figure('handler runs', figures.effects);
      if (failures.length > 0) console.log(failures.slice(0, 5).join('\n'));
      expectClean(history.check({ evidence: 'observed', duplicates: 'forbidden' }));
    },
  );

  it('a seed replays to the identical trace', async () => {
    for (const seed of [1, 7, 1000]) {
      const first = await simulate(seed);
      const again = await simulate(seed);
      expect(again.trace.length).toBe(first.trace.length);
      expect(again.digest).toBe(first.digest);
      expect(first.figures.faults + first.figures.crashes).toBeGreaterThan(0);
    }
  });
});
