/**
 * The ledger a child appends to: one JSON line per event, written with appendFileSync, so a line is in
 * the kernel before the next line of code runs and a SIGKILL cannot lose a line already written.
 */
import { appendFileSync } from 'node:fs';

export type Log = (entry: Record<string, unknown>) => void;

export function ledger(path: string): Log {
  const pid = process.pid;
  return (entry) => appendFileSync(path, `${JSON.stringify({ ...entry, pid, t: Date.now() })}\n`);
}

/** The command-line arguments by name, in order; fails with the usage when one is missing. */
export function args<const N extends string>(script: string, names: readonly N[]): Record<N, string> {
  const list = process.argv.slice(2);
  if (list.length < names.length) throw new Error(`usage: ${script} ${names.map((n) => `<${n}>`).join(' ')}`);
  return Object.fromEntries(names.map((n, i) => [n, list[i]!])) as Record<N, string>;
}
