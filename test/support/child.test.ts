/**
 * The child-process harness keeps its promises: a typed ready line, a failing wait that shows the child's
 * stderr, a hung child killed by `killAfterMs`, and a child still running when its test ends killed and
 * reaped before the test's earlier clean-up runs.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { repositoryRoot, scratchFolder, spawnScript } from './child.js';

const SAMPLE = join(repositoryRoot, 'test', 'support', 'fixtures', 'child-sample.ts');

/** True while a process with this pid exists (a reaped child no longer does). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('child-process harness', () => {
  let left: { pid: number; folder: string } | undefined;

  it('reads a typed JSON ready line and a text line, and reports how a signal ended the child', async () => {
    const child = spawnScript(SAMPLE, ['ready']);
    const ready = await child.line<{ e: 'ready'; pid: number }>('ready');
    expect(ready.pid).toBe(child.pid);
    expect((await child.waitFor(/child-sample: (\w+)/, 'stderr'))[1]).toBe('waiting');
    child.signal('SIGTERM');
    expect(await child.exited).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(child.running()).toBe(false);
  });

  it('a wait on a child that ends without the line fails with its exit and its stderr', async () => {
    const child = spawnScript(SAMPLE, ['fail']);
    await expect(child.line('ready')).rejects.toThrow(/code 3[\s\S]*cannot start, the reason is here/);
    expect(await child.exited).toMatchObject({ code: 3, signal: null });
  });

  it('a hung child is killed with SIGKILL after killAfterMs', async () => {
    const child = spawnScript(SAMPLE, ['ready'], { killAfterMs: 1 });
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.stderr).toMatch(/killed with SIGKILL by the test harness after 1 ms/);
  });

  it('leaves a child running at its end (the next test checks it is gone)', async () => {
    const folder = scratchFolder('garrison-child-');
    onTestFinished(() => {
      // Registered before the spawn, so it runs after the child is reaped.
      expect(exists(child.pid)).toBe(false);
      writeFileSync(join(folder, 'after-reap'), '');
    });
    const child = spawnScript(SAMPLE, ['ready']);
    await child.line('ready');
    left = { pid: child.pid, folder };
    expect(child.running()).toBe(true);
  });

  it('the child left running by the previous test was killed and reaped, then its folder removed', () => {
    expect(left).toBeDefined();
    expect(exists(left!.pid)).toBe(false);
    expect(existsSync(left!.folder)).toBe(false);
  });
});
