/**
 * `garrison dev` as users run it: a node with the API for an application, restarted in a fresh process
 * when a file of the app changes (the new code runs: its version shows), the old node drained first;
 * SIGTERM stops the node and the command cleanly, leaving no node process behind.
 */
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot, scratchFolder, spawnGarrison } from '../support/child.js';

const INDEX = join(repositoryRoot, 'src', 'index.ts');

/** An application module whose version is `version`, importing the library from the sources. */
const appSource = (version: string) =>
  [
    `import { defineApp, defineWorkflow } from ${JSON.stringify(INDEX)};`,
    "const ping = defineWorkflow('dev.ping', async (ctx) => ctx.step('pong', async () => 'pong'));",
    `export default defineApp({ version: '${version}', workflows: [ping], config: { drainTimeoutMs: 2000 } });`,
  ].join('\n');

/**
 * A scratch project for a TypeScript app: an ES module package with tsx installed in it (the
 * repository's `node_modules`, linked), as a project must have it for the CLI to load `.ts` modules.
 */
function project(): string {
  const folder = scratchFolder('garrison-dev-');
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  symlinkSync(join(repositoryRoot, 'node_modules'), join(folder, 'node_modules'));
  return folder;
}

describe('garrison dev', () => {
  it('restarts the node with the new code when the app changes, draining the old one; SIGTERM stops all', async () => {
    const folder = project();
    const app = join(folder, 'app.ts');
    writeFileSync(app, appSource('v1'));
    const dev = spawnGarrison(
      ['dev', '--app', app, '--store', `sqlite:${join(folder, '.garrison', 'dev.db')}`, '--port', '0'],
      { cwd: folder },
    );
    const [, first] = await dev.waitFor(/app \S+ v1: .*\n.*API and dashboard at (http:\S+)\n/, 'stderr', {
      timeoutMs: 90_000,
    });
    expect((await fetch(`${first}/healthz`)).status).toBe(200);

    writeFileSync(app, appSource('v2'));
    await dev.waitFor(/garrison dev: app\.ts changed; draining the node/, 'stderr', { timeoutMs: 90_000 });
    const [, second] = await dev.waitFor(/app \S+ v2: .*\n.*API and dashboard at (http:\S+)\n/, 'stderr', {
      timeoutMs: 90_000,
    });
    expect(dev.stderr()).toMatch(/garrison serve dev: drained, all work in hand finished/);
    expect((await fetch(`${second}/healthz`)).status).toBe(200);
    await expect(fetch(`${first}/healthz`)).rejects.toThrow();

    dev.signal('SIGTERM');
    const exit = await dev.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/garrison dev: SIGTERM, stopping the node\n/);
    expect(exit.stderr.match(/garrison serve dev: drained/g)).toHaveLength(2);
    await expect(fetch(`${second}/healthz`)).rejects.toThrow();
  }, 180_000);

  it('a node left behind by a killed garrison dev drains and stops by itself', async () => {
    const folder = project();
    const app = join(folder, 'app.ts');
    writeFileSync(app, appSource('v1'));
    const dev = spawnGarrison(
      ['dev', '--app', app, '--store', `sqlite:${join(folder, '.garrison', 'dev.db')}`, '--port', '0'],
      { cwd: folder },
    );
    const [, url] = await dev.waitFor(/API and dashboard at (http:\S+)\n/, 'stderr', { timeoutMs: 90_000 });
    await dev.kill();
    // The node notices its parent is gone (the IPC channel closes) and drains; then its port is free.
    for (;;) {
      const up = await fetch(`${url}/healthz`).then(
        () => true,
        () => false,
      );
      if (!up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 180_000);
});
