/** The `garrison` command line: one Command tree, built here so tests can run it in-process too. */
import { Command, CommanderError } from 'commander';
import { isGarrisonError } from '../errors.js';
import { visible, visibleLines } from './output.js';
import { version } from './version.js';

/**
 * Every command and where its code is: a command line loads the code of its own command only (a
 * read-only command then starts in about half the time of one that loads all of them); the help, a
 * mistyped command and the version load every one.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['demo', async () => (await import('./commands/demo.js')).demoCommand()],
  ['dev', async () => (await import('./commands/dev.js')).devCommand()],
  ['serve', async () => (await import('./commands/serve.js')).serveCommand()],
  ['worker', async () => (await import('./commands/worker.js')).workerCommand()],
  ['status', async () => (await import('./commands/status.js')).statusCommand()],
  ['agents', async () => (await import('./commands/agents.js')).agentsCommand()],
  ['workflows', async () => (await import('./commands/workflows.js')).workflowsCommand()],
  ['tasks', async () => (await import('./commands/tasks.js')).tasksCommand()],
  ['timers', async () => (await import('./commands/timers.js')).timersCommand()],
  ['locks', async () => (await import('./commands/coordination.js')).locksCommand()],
  ['leaders', async () => (await import('./commands/coordination.js')).leadersCommand()],
  ['pools', async () => (await import('./commands/coordination.js')).poolsCommand()],
  ['ai', async () => (await import('./commands/ai.js')).aiCommand()],
  ['dlq', async () => (await import('./commands/dlq.js')).dlqCommand()],
  ['migrate', async () => (await import('./commands/migrate.js')).migrateCommand()],
  ['bench', async () => (await import('./commands/bench.js')).benchCommand()],
];

/** The command tree for `argv`: its own command alone when it names one, else every command. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('garrison')
    .description('Garrison: a durable, supervised multi-agent runtime')
    .version(version, '-v, --version')
    .showHelpAfterError()
    .exitOverride();
  const named = COMMANDS.filter(([name]) => name === argv[0]);
  const commands = await Promise.all((named.length > 0 ? named : COMMANDS).map(([, load]) => load()));
  for (const command of commands) program.addCommand(command.showHelpAfterError().exitOverride());
  sameErrorPrefix(program);
  return program;
}

/**
 * Every error line starts `garrison:`, whether commander found a bad argument or a command failed.
 * Commander does not pass output settings to commands added with `addCommand`, so each gets its own.
 */
function sameErrorPrefix(command: Command): void {
  command.configureOutput({
    outputError: (text, write) => write(`garrison: ${visibleLines(text.replace(/^error: /, ''))}`),
  });
  for (const sub of command.commands) sameErrorPrefix(sub);
}

/** Runs the command line; returns the exit code. Errors become one readable line, never a stack trace. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const message = isGarrisonError(error)
      ? `${error.message} [${error.code}]`
      : error instanceof Error
        ? error.message
        : String(error);
    process.stderr.write(`garrison: ${visible(message)}\n`);
    return 1;
  }
}
