import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two files at once, also on two cores: most of a file's time is spent waiting on child processes,
    // leases and the store, and the tests hold under a busy machine (npm run test:loaded proves it).
    maxWorkers: 2,
    // A worker loads the sources once and runs file after file on them, rather than loading them again
    // for each file (about a fifth of the suite's CPU time). Safe because no test replaces a module or
    // a global, and every file stops the nodes, stores and children it started.
    isolate: false,
  },
});
