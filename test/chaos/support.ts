/**
 * What every fault test shares: the scale of the run, child processes (bundled once, killed, stopped,
 * restarted), ledgers the children append to, and waiting on real time without timed assertions.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { build } from 'esbuild';
import { spawnScript, type Child } from '../support/child.js';

export const root = join(import.meta.dirname, '..', '..');

/**
 * `GARRISON_CHAOS_SCALE` multiplies the sizes of every fault test (items, faults, duration); 1, the
 * default, is the size `npm test` runs.
 */
export const scale = (() => {
  const raw = process.env.GARRISON_CHAOS_SCALE;
  const n = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`GARRISON_CHAOS_SCALE must be a positive number: ${raw}`);
  return n;
})();

/**
 * A wait of `ms` on a quiet machine, stretched by how busy the machine is now (the 1-minute load average
 * per core, 1 at least, 10 at most): a bound on how long a process may look idle before the test gives
 * up on it, which a starved process must not trip. Never a measurement.
 */
export function loadScaled(ms: number): number {
  const perCore = loadavg()[0]! / availableParallelism();
  return Math.round(ms * Math.min(10, Math.max(1, perCore)));
}

/** `n` at the current scale, at least 1. */
export function scaled(n: number): number {
  return Math.max(1, Math.round(n * scale));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, looking every few ms; fails with `what` after `ms`. A guard against hangs. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`never happened within ${ms} ms: ${what}`);
}

/** A random integer in [low, high]. */
export function between(low: number, high: number): number {
  return low + Math.floor(Math.random() * (high - low + 1));
}

/** A temporary folder removed by `cleanup()` (kept for a look when `GARRISON_CHAOS_KEEP` is set). */
export class Scratch {
  private readonly folders: string[] = [];

  folder(prefix = 'garrison-chaos-'): string {
    const folder = mkdtempSync(join(tmpdir(), prefix));
    this.folders.push(folder);
    return folder;
  }

  cleanup(): void {
    if (process.env.GARRISON_CHAOS_KEEP) {
      for (const f of this.folders.splice(0)) console.log(`[chaos] kept ${f}`);
      return;
    }
    for (const f of this.folders.splice(0)) rmSync(f, { recursive: true, force: true });
  }
}

const bundles = new Map<string, Promise<string>>();

/**
 * The child script `test/chaos/children/<name>.ts` (or the TypeScript file at the absolute path `name`)
 * bundled into one plain ES module, so a restart costs a third of a second instead of a second of
 * compiling TypeScript — restarts are most of what these tests do. The bundle sits two folders below
 * the repository, as the sources do, so the store finds its migrations, and inside node_modules so that
 * the packages resolve.
 */
export function childScript(name: string): Promise<string> {
  let bundle = bundles.get(name);
  if (bundle === undefined) {
    const entry = isAbsolute(name) ? name : join(root, 'test', 'chaos', 'children', `${name}.ts`);
    const folder = join(root, 'node_modules', '.cache');
    mkdirSync(folder, { recursive: true });
    const outfile = join(folder, `garrison-chaos-${basename(entry, '.ts')}-${process.pid}.mjs`);
    bundle = build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile,
      logLevel: 'error',
    }).then(() => outfile);
    bundles.set(name, bundle);
  }
  return bundle;
}

/** Removes this process's bundles. */
export async function removeBundles(): Promise<void> {
  for (const bundle of bundles.values()) rmSync(await bundle, { force: true });
  bundles.clear();
}

/**
 * Child processes of one test, through the shared harness (`test/support/child.ts`, which also reaps
 * them when the test ends): started, faulted, and all gone after `killAll()` — which the tests' `afterEach`
 * awaits before removing the folders the children write into.
 */
export class Children {
  private readonly all: Child[] = [];

  /** Starts `children/<name>.ts` with `args`, extra environment variables and, as root, a uid and gid. */
  async start(
    name: string,
    args: readonly (string | number)[],
    env: Record<string, string> = {},
    user: { readonly uid?: number; readonly gid?: number } = {},
  ): Promise<ChildProcess> {
    return (await this.spawn(name, args, env, user)).process;
  }

  /** As `start` (`name` may be an absolute path), answering the harness's child: its output, waits on it. */
  async spawn(
    name: string,
    args: readonly (string | number)[],
    env: Record<string, string> = {},
    user: { readonly uid?: number; readonly gid?: number } = {},
  ): Promise<Child> {
    const script = await childScript(name);
    const child = spawnScript(script, args, { env, ...user, echo: basename(name, '.ts') });
    this.all.push(child);
    return child;
  }

  /** Every child started since the last `killAll()`. */
  started(): readonly ChildProcess[] {
    return this.all.map((c) => c.process);
  }

  async killAll(): Promise<void> {
    // SIGKILL ends a stopped (SIGSTOP) child as well.
    await Promise.all(this.all.splice(0).map((c) => c.kill()));
  }
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export function exited(child: ChildProcess): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Kills with SIGKILL and waits until the process is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}

/** Stops gracefully with SIGTERM; resolves with the exit code. */
export async function terminate(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  await exited(child);
  return child.exitCode;
}

/** A ledger line: what a child did, by whom (`pid`) and when (`t`, epoch ms). */
export interface LedgerLine {
  readonly e: string;
  readonly pid: number;
  readonly t: number;
  readonly [field: string]: unknown;
}

/**
 * Reads a ledger (JSON lines appended by children) incrementally: each `poll()` parses only what was
 * appended since the last one, so following a ledger of 100,000 lines stays cheap.
 */
export class LedgerReader {
  readonly lines: LedgerLine[] = [];
  private readonly counts = new Map<string, number>();
  private offset = 0;
  private rest = '';

  constructor(readonly path: string) {}

  poll(): LedgerLine[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size <= this.offset) return [];
    const fd = openSync(this.path, 'r');
    const buffer = Buffer.alloc(size - this.offset);
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = this.rest + buffer.toString('utf8');
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    const fresh: LedgerLine[] = [];
    for (const part of parts) if (part.trim() !== '') fresh.push(JSON.parse(part) as LedgerLine);
    for (const line of fresh) {
      this.lines.push(line);
      for (const key of [line.e, `${line.pid}:${line.e}`])
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
    return fresh;
  }

  /** Lines of event `e` so far, of one process or of all. */
  count(e: string, pid?: number): number {
    this.poll();
    return this.counts.get(pid === undefined ? e : `${pid}:${e}`) ?? 0;
  }

  /** Every line so far. */
  all(): LedgerLine[] {
    this.poll();
    return this.lines;
  }
}

/** Waits until each child has appended `ready` to the ledger (before it is sent SIGTERM, say). */
export async function allReady(ledger: LedgerReader, children: readonly ChildProcess[]): Promise<void> {
  await eventually(
    () => {
      const ready = new Set(
        ledger
          .all()
          .filter((l) => l.e === 'ready')
          .map((l) => l.pid),
      );
      return children.every((c) => !alive(c) || ready.has(c.pid!));
    },
    'the children are ready',
    30_000,
  );
}

/** Seconds since `startedAt`, one decimal. */
export function secondsSince(startedAt: number): number {
  return Math.round((Date.now() - startedAt) / 100) / 10;
}
