/**
 * How a node tells that the process behind a row of its own host is gone (`process-identity.ts`): no
 * such pid, or — where start times can be read (Linux) — a pid now held by a process that started at
 * another time than the one recorded (the pid was reused).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { processGone, thisProcess } from '../../src/node/index.js';

const linux = existsSync('/proc/self/stat');

describe('the process behind a node', () => {
  it('this process is recorded with its host, pid and (on Linux) start time, and is alive', () => {
    const me = thisProcess();
    expect(me).toMatchObject({ host: hostname(), pid: process.pid });
    if (linux) {
      // The start time is when this process began: before now, and not before its uptime says.
      expect(me.startedAt).toBeLessThanOrEqual(Date.now());
      expect(me.startedAt).toBeGreaterThan(Date.now() - process.uptime() * 1000 - 2000);
    } else expect(me.startedAt).toBeNull();
    expect(processGone(me.pid, me.startedAt)).toBe(false);
    expect(processGone(me.pid, null)).toBe(false);
  });

  it('a pid that has exited is gone', () => {
    const { pid } = spawnSync(process.execPath, ['-e', '']);
    expect(processGone(pid, null)).toBe(true);
  });

  it('a live pid whose process started at another time than recorded is gone (the pid was reused)', () => {
    const me = thisProcess();
    // Where start times cannot be read, a reused pid looks alive: the documented limitation.
    expect(processGone(me.pid, (me.startedAt ?? 0) - 60_000)).toBe(linux);
  });
});
