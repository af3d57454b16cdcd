/**
 * `npm run bench`: runs every `bench/*.bench.ts` module and prints its figures. Each module exports
 * `run(context)` returning a flat record of numbers. PostgreSQL figures use `DATABASE_URL` or an
 * embedded server started here. `--only NAME[,NAME]` picks modules (`runtime`, `queue`, …); `--tracing`
 * registers the OpenTelemetry SDK with an in-memory exporter first (see `tracing.ts`).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startEmbeddedPostgres, type RunningPostgres } from '../test/support/embedded-postgres.js';

export interface BenchContext {
  /** A PostgreSQL server URL the module may create schemas on. */
  readonly postgresUrl: string;
}

type BenchModule = { run(context: BenchContext): Promise<Record<string, number | string>> };

const here = dirname(fileURLToPath(import.meta.url));
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? (process.argv[onlyIndex + 1] ?? '').split(',') : undefined;
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only === undefined || only.includes(f.replace('.bench.ts', '')))
  .sort();

// `--tracing`: the OpenTelemetry SDK registered (in-memory exporter), to compare with tracing off.
const tracing = process.argv.includes('--tracing')
  ? (await import('./tracing.js')).registerBenchTracing()
  : undefined;

let server: RunningPostgres | undefined;
let postgresUrl = process.env.DATABASE_URL ?? '';
if (postgresUrl === '') {
  server = await startEmbeddedPostgres();
  postgresUrl = server.url;
}
const results: Record<string, Record<string, number | string>> = {};
try {
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
    const name = file.replace('.bench.ts', '');
    process.stderr.write(`bench ${name}…\n`);
    results[name] = await mod.run({ postgresUrl });
    for (const [key, value] of Object.entries(results[name])) {
      process.stdout.write(
        `${name}.${key}: ${typeof value === 'number' ? Math.round(value * 100) / 100 : value}\n`,
      );
    }
  }
} finally {
  await server?.stop();
}
if (tracing !== undefined) process.stderr.write(`bench: ${tracing.spans()} spans exported\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
