/** `garrison bench`: runs the benchmark suite of a source checkout (the same as `npm run bench`). */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { GarrisonError } from '../../errors.js';

/** The package root: two folders up from src/cli/commands or dist/cli/commands. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The benchmark modules of the checkout (`bench/<name>.bench.ts`); undefined when there are none here. */
function benchModules(): string[] | undefined {
  const dir = join(root, 'bench');
  if (!existsSync(dir)) return undefined;
  const suffix = '.bench.ts';
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => f.slice(0, -suffix.length))
    .sort();
}

/** `--only a,b`: every name must be a module, or the runner would run nothing and report success. */
function parseModules(value: string): string {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) throw new InvalidArgumentError('name at least one module');
  const known = benchModules();
  const unknown = known === undefined ? [] : names.filter((n) => !known.includes(n));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `no benchmark is named ${unknown.join(', ')} (known: ${(known ?? []).join(', ')})`,
    );
  return names.join(',');
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('run the benchmarks (runtime, queues, workflows on SQLite and PostgreSQL)')
    .option('--only <names>', 'comma-separated modules: runtime, queue, workflow', parseModules)
    .action(async (opts: { only?: string }) => {
      const runner = join(root, 'bench', 'run.ts');
      if (!existsSync(runner))
        throw new GarrisonError(
          'bench_unavailable',
          `the benchmarks ship with the source checkout; ${runner} is not here`,
        );
      const args = ['--expose-gc', '--import', 'tsx', runner, ...(opts.only ? ['--only', opts.only] : [])];
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
        child.once('error', reject);
        child.once('exit', (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new GarrisonError('bench_failed', `the benchmarks exited with code ${code}`);
    });
}
