/** `garrison agents`: the agents in the registry. */
import { Command } from 'commander';
import { Health } from '../../registry/index.js';
import { createOutput } from '../output.js';
import { oneOf } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

const healths = Object.values(Health);

export function agentsCommand(): Command {
  return new Command('agents')
    .description('list registered agents')
    .addOption(storeOption())
    .option('--capability <name>', 'only agents with this capability')
    .option('--health <health>', `only agents in this health (${healths.join(', ')})`, oneOf(healths))
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { store: string; json?: boolean; capability?: string; health?: Health }) => {
      await withSession(opts.store, async ({ registry }) => {
        let agents = await (opts.capability === undefined
          ? registry.list()
          : registry.findByCapability(opts.capability));
        if (opts.health !== undefined) agents = agents.filter((a) => a.health === opts.health);
        createOutput(opts.json === true).result({ agents }, () =>
          table(
            ['id', 'type', 'capabilities', 'health', 'node', 'registered'],
            agents.map((a) => [
              a.id,
              a.type,
              a.capabilities.join(','),
              a.health,
              a.node,
              when(a.registeredAt),
            ]),
          ),
        );
      });
    });
}
