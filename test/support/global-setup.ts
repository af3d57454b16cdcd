/**
 * Once per test run: a PostgreSQL server for the PostgreSQL adapter's tests. `DATABASE_URL` picks an
 * existing server; otherwise an embedded one is started and stopped at the end.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type RunningPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let running: RunningPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    running = await startEmbeddedPostgres();
    url = running.url;
  }
  project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
  await running?.stop();
}
