import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('scheduler shutdown on the real clock', () => {
  it('after shutdown no timer is left and the Node event loop drains: the process exits by itself', async () => {
    const loader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const script = join(root, 'test', 'scheduler', 'drain-child.ts');
    const child = spawn(process.execPath, ['--import', loader, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Nothing kills the child: it exits only if its event loop drained.
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve({ code, signal }));
      },
    );
    expect({ ...exit, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(stdout.trim())).toEqual({ listed: 0, timers: [] });
  });
});
