/**
 * The JavaScript the tests' child processes run. A child started through tsx spends about 1.8 s of CPU
 * loading the sources through the loader's hooks before its first line of its own; the suite starts a few
 * hundred children, on two cores. So once per test run, `src/` and `test/` are transpiled (esbuild, file
 * by file, no bundling: the same transform tsx applies) into a scratch folder laid out like the
 * repository, with `package.json`, `migrations/` and `node_modules/` linked in — every path a module
 * finds relative to itself (`../../migrations`, the demo application next to the CLI) stays true. A child
 * then starts in about a third of the time, from the sources under test.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/** What each child reads from the repository itself rather than from the transpiled copy. */
const LINKED = ['package.json', 'migrations', 'node_modules', 'bench'] as const;
const TRANSPILED = ['src', 'test'] as const;

/** Transpiles the repository at `root` into a new scratch folder; answers it and how to remove it. */
export async function buildForChildren(root: string): Promise<{ folder: string; remove: () => void }> {
  const folder = mkdtempSync(join(tmpdir(), 'garrison-children-'));
  // Readable by every user: some tests run their child as an unprivileged one.
  chmodSync(folder, 0o755);
  const remove = () => rmSync(folder, { recursive: true, force: true });
  try {
    for (const name of LINKED) symlinkSync(join(root, name), join(folder, name));
    const entryPoints = TRANSPILED.flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.endsWith('.test.ts'))
        .map((file) => join(root, dir, file)),
    );
    await build({
      entryPoints,
      outbase: root,
      outdir: folder,
      bundle: false,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
    });
  } catch (error) {
    remove();
    throw error;
  }
  return { folder, remove };
}
