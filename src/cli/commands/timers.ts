/** `garrison timers`: the durable timers in the store. */
import { Command } from 'commander';
import { createOutput } from '../output.js';
import { parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

export function timersCommand(): Command {
  return new Command('timers')
    .description('list durable timers (delays, intervals, cron schedules), soonest first, one page at a time')
    .addOption(storeOption())
    .option('--topic <topic>', 'only timers of this topic')
    .option('--owner <owner>', 'only timers of this owner')
    .option('--limit <n>', 'most timers shown (default 100, at most 1000)', parsePositiveInt)
    .option('--cursor <cursor>', 'go on after the page that printed this cursor')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Options) => {
      await withSession(opts.store, async ({ timers }) => {
        const { timers: list, nextCursor } = await timers.page({
          ...(opts.topic === undefined ? {} : { topic: opts.topic }),
          ...(opts.owner === undefined ? {} : { owner: opts.owner }),
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
        });
        createOutput(opts.json === true).result({ timers: list, nextCursor }, () =>
          [
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
            ...(nextCursor === null ? [] : [`more timers: run again with --cursor ${nextCursor}`]),
          ].join('\n'),
        );
      });
    });
}

interface Options {
  readonly store: string;
  readonly json?: boolean;
  readonly topic?: string;
  readonly owner?: string;
  readonly limit?: number;
  readonly cursor?: string;
}
