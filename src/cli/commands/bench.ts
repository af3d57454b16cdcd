/** `garrison bench`: runs the benchmark suite of a source checkout (the same as `npm run bench`). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { GarrisonError } from '../../errors.js';

/** The package root: two folders up from src/cli/commands or dist/cli/commands. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function benchCommand(): Command {
  return new Command('bench')
    .description('run the benchmarks (runtime, queues, workflows on SQLite and PostgreSQL)')
    .option('--only <names>', 'comma-separated modules: runtime, queue, workflow')
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
