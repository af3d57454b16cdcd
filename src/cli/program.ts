/** The `garrison` command line: one Command tree, built here so tests can run it in-process too. */
import { Command, CommanderError } from 'commander';
import { isGarrisonError } from '../errors.js';
import { agentsCommand } from './commands/agents.js';
import { benchCommand } from './commands/bench.js';
import { leadersCommand, locksCommand, poolsCommand } from './commands/coordination.js';
import { demoCommand } from './commands/demo.js';
import { devCommand } from './commands/dev.js';
import { dlqCommand } from './commands/dlq.js';
import { migrateCommand } from './commands/migrate.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { tasksCommand } from './commands/tasks.js';
import { timersCommand } from './commands/timers.js';
import { workerCommand } from './commands/worker.js';
import { workflowsCommand } from './commands/workflows.js';
import { visible, visibleLines } from './output.js';
import { version } from './version.js';

export function buildProgram(): Command {
  const program = new Command('garrison')
    .description('Garrison: a durable, supervised multi-agent runtime')
    .version(version, '-v, --version')
    .showHelpAfterError()
    .exitOverride();
  for (const command of [
    demoCommand(),
    devCommand(),
    serveCommand(),
    workerCommand(),
    statusCommand(),
    agentsCommand(),
    workflowsCommand(),
    tasksCommand(),
    timersCommand(),
    locksCommand(),
    leadersCommand(),
    poolsCommand(),
    dlqCommand(),
    migrateCommand(),
    benchCommand(),
  ]) {
    program.addCommand(command.showHelpAfterError().exitOverride());
  }
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
  const program = buildProgram();
  try {
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
