/**
 * The one way a test runs a child process: a TypeScript script (through tsx), a bundled `.mjs`, or the
 * `garrison` command. Crash and drain tests need real processes, and a child left running after its test
 * keeps writing into folders the clean-up removes, holds locks and leases, and can hang the file; so every
 * child is registered and, when the test that spawned it ends (pass, fail or timeout), a child still
 * running gets SIGKILL and its `close` is awaited.
 *
 * Order of clean-up: vitest runs `afterEach` hooks first, then the test's `onTestFinished` callbacks,
 * last registered first. The reaping is an `onTestFinished` callback registered at spawn, so clean-up
 * registered before the spawn with `onTestFinished` (as `scratchFolder` does) runs after the child is
 * gone; an `afterEach` that removes what a child writes into must `await reapChildren()` first. A child
 * spawned outside a test (in `beforeAll`) or in a concurrent test (whose owner vitest cannot tell) belongs
 * to its file and is reaped in a file-level `afterAll`. `killAfterMs` kills a hung child, so it fails its
 * test instead of hanging the file; when this process exits, any child left gets SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, inject, onTestFinished, TestRunner } from 'vitest';

export const repositoryRoot = join(import.meta.dirname, '..', '..');
const TSX = pathToFileURL(join(repositoryRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const GARRISON = join(repositoryRoot, 'src', 'cli', 'main.ts');
/** The default `killAfterMs`, unless the spawning test's timeout is longer, in ms. */
const DEFAULT_KILL_AFTER_MS = 120_000;
/** After the process is gone, how long its pipes may stay open (held by a grandchild) before they are closed. */
const PIPE_GRACE_MS = 5000;
/** How much of each stream an error message shows, in characters (the end of it). */
const SHOWN = 4000;

/** How a child ended and everything it printed. */
export interface ChildExit {
  /** The exit code; null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChildOptions {
  /** Extra environment variables. `NODE_OPTIONS` (vitest's) is always removed, `GARRISON_STORE` unless given. */
  readonly env?: Readonly<Record<string, string>>;
  /** The working directory; default the repository root. */
  readonly cwd?: string;
  /** Options for node itself, before the script (`--expose-gc`, …). */
  readonly nodeArgs?: readonly string[];
  /** A pipe to the child's stdin (`child.process.stdin`); default none. */
  readonly stdin?: boolean;
  /** Run as this user and group (a root test process dropping privileges). */
  readonly uid?: number;
  readonly gid?: number;
  /** SIGKILL after this long, in ms; default 120 s, or the spawning test's timeout when longer. */
  readonly killAfterMs?: number;
  /** Copies the child's stderr to this process's, each chunk prefixed with `[<echo> <pid>]`. */
  readonly echo?: string;
}

export interface WaitOptions {
  /** Fail the wait after this long, in ms, with the child's output in the error; default no limit. */
  readonly timeoutMs?: number;
}

/** A running child: its output so far, waits on it, signals, and its end. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** True until the process has exited. */
  running(): boolean;
  /** The first JSON line `{"e": e, …}` the child printed on stdout; rejects if it ends without one. */
  line<T extends { readonly e: string }>(e: T['e'], options?: WaitOptions): Promise<T>;
  /** The first match of `pattern` (a string matches as it is) in a stream; rejects if the child ends without one. */
  waitFor(
    pattern: RegExp | string,
    stream: 'stdout' | 'stderr',
    options?: WaitOptions,
  ): Promise<RegExpMatchArray>;
  /** Sends a signal, if the process still runs. */
  signal(name: NodeJS.Signals): void;
  /** SIGKILL, then its end. */
  kill(): Promise<ChildExit>;
  /** Resolves once the process has exited and its output is read (`close`); rejects if it could not start. */
  readonly exited: Promise<ChildExit>;
}

const live = new Set<Child>();
const ofFile = new Set<Child>();
const fileFolders: string[] = [];

/** The test that owns what is made now, or undefined when the file owns it (outside a test, or concurrent). */
function owningTest() {
  const test = TestRunner.getCurrentTest();
  return test === undefined || test.concurrent === true ? undefined : test;
}

async function reap(child: Child): Promise<void> {
  if (child.running()) child.process.kill('SIGKILL');
  await child.exited.catch(() => undefined);
}

/** Kills and reaps every child still running (for an `afterEach` that removes the folders they write into). */
export async function reapChildren(): Promise<void> {
  await Promise.all([...live].map(reap));
}

afterAll(async () => {
  await Promise.all([...ofFile].map(reap));
  for (const folder of fileFolders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

process.on('exit', () => {
  for (const child of live) if (child.running()) child.process.kill('SIGKILL');
});

/**
 * A temporary folder removed when the current test ends, after the children spawned later in the test
 * are reaped (outside a test: at the end of the file).
 */
export function scratchFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(folder, { recursive: true, force: true });
  if (owningTest() === undefined) fileFolders.push(folder);
  else onTestFinished(remove);
  return folder;
}

/**
 * Runs `node <nodeArgs> script args…`. A TypeScript file of this repository runs as its copy in the
 * run's transpiled build (`child-build.ts`); any other TypeScript file through tsx; `.mjs`/`.js` as it is.
 */
export function spawnScript(
  script: string,
  args: readonly (string | number)[] = [],
  options: ChildOptions = {},
): Child {
  const argv = [...(options.nodeArgs ?? []), ...runnable(script), ...args.map(String)];
  return start(script, argv, options);
}

function runnable(script: string): readonly string[] {
  if (!/\.ts$/.test(script)) return [script];
  const inRepository = relative(repositoryRoot, script);
  const build = inject('childBuild') as string | undefined;
  if (build === undefined || inRepository.startsWith('..')) return ['--import', TSX, script];
  return [join(build, inRepository.replace(/\.ts$/, '.js'))];
}

/**
 * Runs the `garrison` command from source (`src/cli/main.ts`, transpiled for this run), as users run it.
 * `bin/garrison.js` is not used: it prefers a built `dist/`, which may be older than the source under test.
 */
export function spawnGarrison(args: readonly string[], options: ChildOptions = {}): Child {
  return spawnScript(GARRISON, args, options);
}

function environment(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS; // vitest's loader options are not the child's
  // A store named by the environment of the test run must not leak into a command under test.
  if (extra?.GARRISON_STORE === undefined) delete env.GARRISON_STORE;
  return env;
}

function tail(text: string): string {
  return text.length <= SHOWN ? text : `…${text.slice(-SHOWN)}`;
}

function start(name: string, argv: readonly string[], options: ChildOptions): Child {
  const test = owningTest();
  const proc = spawn(process.execPath, argv, {
    cwd: options.cwd ?? repositoryRoot,
    env: environment(options.env),
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  const label = `${name.split('/').at(-1)} (pid ${proc.pid})`;
  let out = '';
  let err = '';
  let partial = '';
  const lines: Array<{ readonly e: string }> = [];
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());

  // Decoded as a stream, so a character split between two chunks stays whole.
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (text: string) => {
    out += text;
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        const value = JSON.parse(part) as unknown;
        if (typeof value === 'object' && value !== null && typeof (value as { e?: unknown }).e === 'string')
          lines.push(value as { e: string });
      } catch {
        // Not a JSON line: plain output.
      }
    }
    changed();
  });
  proc.stderr!.on('data', (text: string) => {
    err += text;
    if (options.echo !== undefined) process.stderr.write(`[${options.echo} ${proc.pid}] ${text}`);
    changed();
  });

  const killAfterMs = options.killAfterMs ?? Math.max(DEFAULT_KILL_AFTER_MS, test?.timeout ?? 0);
  const killer = setTimeout(() => {
    err += `\n[killed with SIGKILL by the test harness after ${killAfterMs} ms]\n`;
    proc.kill('SIGKILL');
  }, killAfterMs);
  killer.unref();
  // A grandchild that inherited the pipes would keep `close` from coming after the process is gone.
  proc.once('exit', () => {
    clearTimeout(killer);
    setTimeout(() => {
      proc.stdout?.destroy();
      proc.stderr?.destroy();
    }, PIPE_GRACE_MS).unref();
  });

  let closed = false;
  const exited = new Promise<ChildExit>((resolve, reject) => {
    proc.once('error', (error) => {
      closed = true;
      changed();
      reject(new Error(`${label} could not run: ${error.message}`, { cause: error }));
    });
    proc.once('close', (code, signal) => {
      closed = true;
      changed();
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });

  /** Resolves with `found()` once it is defined; rejects when the child ends without it or on timeout. */
  function until<T>(what: string, found: () => T | undefined, wait: WaitOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (why: string) => {
        done();
        reject(
          new Error(`${label} ${why} ${what}\n--- stdout ---\n${tail(out)}\n--- stderr ---\n${tail(err)}`),
        );
      };
      const check = () => {
        const value = found();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (closed) {
          fail(`ended (${proc.signalCode ?? `code ${proc.exitCode}`}) before printing`);
        }
      };
      const done = () => {
        listeners.delete(check);
        if (timer !== undefined) clearTimeout(timer);
      };
      if (wait.timeoutMs !== undefined)
        timer = setTimeout(() => fail(`waited ${wait.timeoutMs} ms for`), wait.timeoutMs);
      listeners.add(check);
      check();
    });
  }

  const child: Child = {
    process: proc,
    pid: proc.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    running: () => proc.exitCode === null && proc.signalCode === null && !closed,
    exited,
    line: <T extends { readonly e: string }>(e: T['e'], wait?: WaitOptions) =>
      until(`a line {"e":"${e}"} on stdout`, () => lines.find((l) => l.e === e) as T | undefined, wait),
    waitFor(pattern, stream, wait) {
      const regex =
        typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
      const what = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
      return until(
        `${what} on ${stream}`,
        () => (stream === 'stdout' ? out : err).match(regex) ?? undefined,
        wait,
      );
    },
    signal(signal) {
      if (child.running()) proc.kill(signal);
    },
    async kill() {
      await reap(child);
      return exited;
    },
  };

  live.add(child);
  void exited.then(
    () => live.delete(child),
    () => live.delete(child),
  );
  if (test === undefined) ofFile.add(child);
  else onTestFinished(() => reap(child));
  return child;
}
