/** `garrison timers`: the durable timers in the store. */
import { Command } from 'commander';
import { createOutput } from '../output.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

export function timersCommand(): Command {
  return new Command('timers')
    .description('list durable timers (delays, intervals, cron schedules)')
    .addOption(storeOption())
    .option('--topic <topic>', 'only timers of this topic')
    .option('--owner <owner>', 'only timers of this owner')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { store: string; json?: boolean; topic?: string; owner?: string }) => {
      await withSession(opts.store, async ({ timers }) => {
        const list = await timers.list({
          ...(opts.topic === undefined ? {} : { topic: opts.topic }),
          ...(opts.owner === undefined ? {} : { owner: opts.owner }),
        });
        createOutput(opts.json === true).result({ timers: list }, () =>
          table(
            ['id', 'kind', 'topic', 'schedule', 'due', 'fired', 'owner'],
            list.map((t) => [
              t.id,
              t.kind,
              t.topic,
              t.cron ?? (t.intervalMs === null ? '-' : `every ${t.intervalMs} ms`),
              when(t.dueAt),
              t.firedCount,
              t.owner,
            ]),
          ),
        );
      });
    });
}
