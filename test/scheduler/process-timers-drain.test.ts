import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot, spawnScript } from '../support/child.js';

describe('scheduler shutdown on the real clock', () => {
  it('after shutdown no timer is left and the Node event loop drains: the process exits by itself', async () => {
    // Nothing kills the child (but the harness's guard): it exits only if its event loop drained.
    const { code, signal, stdout, stderr } = await spawnScript(
      join(repositoryRoot, 'test', 'scheduler', 'drain-child.ts'),
    ).exited;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(stdout.trim())).toEqual({ listed: 0, timers: [] });
  });
});
