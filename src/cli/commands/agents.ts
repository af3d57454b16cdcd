/** `garrison agents`: the agents in the registry. */
import { Command } from 'commander';
import { withAgentStatus } from '../../agents/index.js';
import { Health } from '../../registry/index.js';
import { createOutput } from '../output.js';
import { oneOf, parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

const healths = Object.values(Health);

export function agentsCommand(): Command {
  return new Command('agents')
    .description('list registered agents, by id, one page at a time')
    .addOption(storeOption())
    .option('--capability <name>', 'only agents with this capability')
    .option('--health <health>', `only agents in this health (${healths.join(', ')})`, oneOf(healths))
    .option('--limit <n>', 'most agents shown (default 100, at most 1000)', parsePositiveInt)
    .option('--cursor <cursor>', 'go on after the page that printed this cursor')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Options) => {
      await withSession(opts.store, async ({ registry, store }) => {
        const page = await registry.listPage(
          {
            ...(opts.capability === undefined ? {} : { capability: opts.capability }),
            ...(opts.health === undefined ? {} : { health: opts.health }),
          },
          {
            ...(opts.limit === undefined ? {} : { limit: opts.limit }),
            ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
          },
        );
        // What each agent is doing, from its state row (the registry's copy says idle while it works).
        const agents = await withAgentStatus(store, page.agents);
        const nextCursor = page.nextCursor;
        createOutput(opts.json === true).result({ agents, nextCursor }, () =>
          [
            table(
              ['id', 'type', 'capabilities', 'health', 'node', 'status', 'registered'],
              agents.map((a) => [
                a.id,
                a.type,
                a.capabilities.join(','),
                a.health,
                a.node,
                a.pauseReason === null ? a.status : `${a.status} (${a.pauseReason})`,
                when(a.registeredAt),
              ]),
            ),
            ...(nextCursor === null ? [] : [`more agents: run again with --cursor ${nextCursor}`]),
          ].join('\n'),
        );
      });
    });
}

interface Options {
  readonly store: string;
  readonly json?: boolean;
  readonly capability?: string;
  readonly health?: Health;
  readonly limit?: number;
  readonly cursor?: string;
}
