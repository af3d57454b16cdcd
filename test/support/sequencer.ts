/**
 * The order files start in. Vitest starts the files it has no timing for by size, largest first; on a
 * clean clone it has none, and some of the longest files are small (a simulation loop, the package
 * test), so they started last and the run ended with one worker busy and two idle. The files that take
 * longest start first, in this order (longest first, measured from full runs); the rest follow in
 * Vitest's own order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LONGEST_FIRST = [
  'test/package/pack.test.ts',
  'test/chaos/workflow-kill.test.ts',
  'test/chaos/simulation-workflows.test.ts',
  'test/chaos/simulation-queue.test.ts',
  'test/chaos/lease-safety.test.ts',
  'test/cli/subprocess-security.test.ts',
  'test/api/fuzz.test.ts',
  'test/chaos/overload.test.ts',
  'test/registry/crash.test.ts',
  'test/api/registry-query-limits.test.ts',
  'test/chaos/storage-faults.test.ts',
  'test/work/queue/crash.test.ts',
  'test/ai/crash.test.ts',
  'test/coordination/workflow-crash.test.ts',
  'test/node/recovery.test.ts',
  'test/coordination/fan-out-crash.test.ts',
  'test/telemetry/trace-crash.test.ts',
  'test/coordination/capability-crash.test.ts',
];

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const at = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(`/${path}`));
      return at < 0 ? LONGEST_FIRST.length : at;
    };
    // A stable sort: files outside the list keep Vitest's order after those in it.
    return sorted
      .map((spec, index) => ({ spec, index, rank: rank(spec) }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index)
      .map(({ spec }) => spec);
  }
}
