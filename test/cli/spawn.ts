/**
 * Runs the real `garrison` command in a child process (`node --import tsx src/cli/main.ts …`), as users
 * run it, and reads what it prints: the CLI tests' view of the child-process harness
 * (`test/support/child.ts`), which kills and reaps a command still running when its test ends.
 */
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { spawnGarrison, type ChildExit } from '../support/child.js';

export type Exit = ChildExit;

export interface SpawnOptions {
  /** Extra environment variables (GARRISON_STORE, DATABASE_URL, …). */
  readonly env?: Record<string, string>;
  /** Kill with SIGKILL after this long, in ms (a hung command fails its test instead of the file). */
  readonly killAfterMs?: number;
}

/** A running `garrison` process: its output so far, a wait for a line of it, a signal, its exit. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr (or stdout); rejects if the process exits first. */
  waitFor(pattern: RegExp, stream?: 'stderr' | 'stdout'): Promise<RegExpMatchArray>;
  readonly exited: Promise<Exit>;
}

export function start(args: readonly string[], options: SpawnOptions = {}): Running {
  const command = spawnGarrison(args, options);
  return {
    child: command.process,
    stdout: () => command.stdout(),
    stderr: () => command.stderr(),
    exited: command.exited,
    waitFor: (pattern, stream = 'stderr') => command.waitFor(pattern, stream),
  };
}

/**
 * At most this many commands of one test file start at once: each spends about a second of CPU loading
 * the code, and more at a time on two cores only makes every one of them slower.
 */
const MAX_AT_ONCE = 4;
let running = 0;
const waiting: Array<() => void> = [];

/** Runs `garrison …args` to its end. */
export async function garrison(args: readonly string[], options: SpawnOptions = {}): Promise<Exit> {
  // A finishing command hands its slot straight to the next waiting one.
  if (running >= MAX_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await start(args, { killAfterMs: 90_000, ...options }).exited;
  } finally {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next();
  }
}

/** The last line of stdout parsed as JSON (every `--json` command prints one JSON document last). */
export function json<T = Record<string, unknown>>(exit: Exit): T {
  const lines = exit.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as T;
}

/** A plain-text table (src/cli/table.ts) as rows of cells; the header row first. */
export function tableRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

/** Asserts a clean success: code 0, nothing on stderr that looks like a stack trace. */
export function expectOk(exit: Exit): void {
  expect(exit.code, exit.stderr).toBe(0);
  expect(exit.stderr).not.toMatch(/^\s+at /m);
}

/**
 * Asserts a bad-argument exit: code 1, nothing on stdout, no stack trace, and a stderr whose first line
 * is the one message (matching `message`); with `usage`, followed by that command's usage.
 */
export function expectRefused(exit: Exit, message: RegExp, usage?: string): void {
  expect(exit.code).toBe(1);
  expect(exit.stdout).toBe('');
  expect(exit.stderr).not.toMatch(/^\s+at /m);
  const lines = exit.stderr.split('\n');
  expect(lines[0]).toMatch(message);
  if (usage === undefined) {
    expect(exit.stderr).toBe(`${lines[0]}\n`);
  } else {
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe(`Usage: ${usage}`);
  }
}
