/**
 * The shell commands of a section of `docs/guide.md`, read from its `sh` code blocks, so that a test can
 * run every one of them as a user types it — the guide cannot say what the package no longer does.
 *
 * A line is `[NAME=value …] program args… [# comment]`. A comment `×N` means the line is run N times
 * (each run gets `--name` ending in `-1`…`-N` in place of the one given); `prints X` is what the command
 * prints on stdout.
 */
import { readFileSync } from 'node:fs';

export interface GuideCommand {
  /** The line as the guide has it. */
  readonly line: string;
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
  /** How many copies to run (`# ×3`). */
  readonly times: number;
  /** What it prints on stdout, when the comment says (`# … prints HELLO ADA`). */
  readonly prints: string | undefined;
}

/** The `sh` blocks of the `## <heading>` section of a Markdown file, each a list of commands. */
export function guideCommands(file: string, heading: string): GuideCommand[][] {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${file} has no section "## ${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((block) =>
    block[1]!
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(parseLine),
  );
}

function parseLine(line: string): GuideCommand {
  const hash = line.indexOf(' #');
  const command = (hash < 0 ? line : line.slice(0, hash)).trim();
  const comment = hash < 0 ? '' : line.slice(hash + 2).trim();
  const words = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Z_]+=/.test(words[0]!)) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=');
  }
  const times = /(?:^|\s)×(\d+)/.exec(comment);
  const prints = /prints (.+)$/.exec(comment);
  return {
    line,
    env,
    argv: words,
    times: times === null ? 1 : Number(times[1]),
    prints: prints?.[1]?.trim(),
  };
}
