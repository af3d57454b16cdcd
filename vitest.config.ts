import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Three files at once, also on two cores: a good part of a file's time is spent waiting on child
    // processes, leases and the store (measured on two cores: 2 workers 668 s, 3 workers 560 s, 4 workers
    // 567 s), and the tests hold under a busy machine (npm run test:loaded proves it).
    maxWorkers: 3,
    // A worker loads the sources once and runs file after file on them, rather than loading them again
    // for each file (about a fifth of the suite's CPU time). Safe because no test replaces a module or
    // a global, and every file stops the nodes, stores and children it started.
    isolate: false,
    // The longest files start first, also on a clean clone (where Vitest has no timings yet).
    sequence: { sequencer: LongestFirst },
  },
});
