/** Runs the command line in-process and captures what it prints. */
import { vi } from 'vitest';
import { runCli } from '../../src/cli/program.js';

/** Every command of \`garrison\`, in the order its help lists them. */
export const COMMANDS = [
  'demo',
  'dev',
  'serve',
  'worker',
  'status',
  'agents',
  'workflows',
  'tasks',
  'timers',
  'locks',
  'leaders',
  'pools',
  'ai',
  'dlq',
  'migrate',
  'bench',
];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await runCli(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The last line of output parsed as JSON. */
export function lastJson<T = Record<string, unknown>>(text: string): T {
  const lines = text.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as T;
}
