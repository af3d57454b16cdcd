/** `garrison dlq [list|retry|purge]`: tasks that used up their attempts. */
import { Command } from 'commander';
import { createOutput } from '../output.js';
import { parseIdList, parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table } from '../table.js';
import { taskHeaders, taskRow } from './tasks.js';

interface Filter {
  store: string;
  json?: boolean;
  queue?: string;
  ids?: number[];
}

/** Retry and purge act on every dead letter of a queue or on some ids, never on all by default. */
function requireFilter(opts: Filter, command: Command): void {
  if (opts.queue === undefined && opts.ids === undefined)
    command.error(`${command.name()} needs --queue <name> or --ids <1,2,…> (or both)`);
}

function listCommand(): Command {
  return new Command('list')
    .description('list dead letters')
    .addOption(storeOption())
    .option('--queue <name>', 'only dead letters of this queue')
    .option('--limit <n>', 'most shown (default 50)', parsePositiveInt)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Filter & { limit?: number }) => {
      await withSession(opts.store, async ({ queues }) => {
        const dead = await queues.listDead({
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
          limit: opts.limit ?? 50,
        });
        createOutput(opts.json === true).result({ deadLetters: dead }, () =>
          table(
            [...taskHeaders, 'last error'],
            dead.map((t) => [...taskRow(t), t.lastError]),
          ),
        );
      });
    });
}

function retryCommand(): Command {
  return new Command('retry')
    .description('put dead letters back in their queue with their attempts reset')
    .addOption(storeOption())
    .option('--queue <name>', 'every dead letter of this queue')
    .option('--ids <ids>', 'these dead letters (comma-separated task ids)', parseIdList)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Filter, command: Command) => {
      requireFilter(opts, command);
      await withSession(opts.store, async ({ queues }) => {
        const retried = await queues.retryDead({
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
          ...(opts.ids === undefined ? {} : { ids: opts.ids }),
        });
        createOutput(opts.json === true).result({ retried }, () => `${retried} dead letter(s) queued again`);
      });
    });
}

function purgeCommand(): Command {
  return new Command('purge')
    .description('delete dead letters')
    .addOption(storeOption())
    .option('--queue <name>', 'dead letters of this queue')
    .option('--ids <ids>', 'these dead letters (comma-separated task ids)', parseIdList)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Filter, command: Command) => {
      requireFilter(opts, command);
      await withSession(opts.store, async ({ queues }) => {
        const purged = await queues.purgeDead({
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
          ...(opts.ids === undefined ? {} : { ids: opts.ids }),
        });
        createOutput(opts.json === true).result({ purged }, () => `${purged} dead letter(s) deleted`);
      });
    });
}

export function dlqCommand(): Command {
  const command = new Command('dlq').description('list, retry and purge dead letters');
  for (const sub of [listCommand(), retryCommand(), purgeCommand()])
    command.addCommand(
      sub.showHelpAfterError().exitOverride(),
      sub.name() === 'list' ? { isDefault: true } : {},
    );
  return command;
}
