/**
 * `garrison agents [list|pause ID|resume ID|stop ID|schedules ID|schedule …]`: the agents in the
 * registry, and an operator's control of one (a store transaction, audited as `cli:<user>@<host>`; the
 * agent's host follows it).
 */
import { Command } from 'commander';
import { hostname, userInfo } from 'node:os';
import { operateAgent, withAgentStatus, type AgentOperation } from '../../agents/index.js';
import { Health } from '../../registry/index.js';
import { systemClock } from '../../runtime/index.js';
import { createOutput, visible } from '../output.js';
import { oneOf, parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { scheduleCommand, schedulesCommand } from './agent-schedules.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

const healths = Object.values(Health);

function listCommand(): Command {
  return new Command('list')
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

/** Who runs this command, for the audit trail. */
function actor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No user entry for this uid (a container): the host still says where the request came from.
  }
  return `cli:${user}@${hostname()}`;
}

const DONE: Readonly<Record<AgentOperation, readonly [string, string]>> = {
  pause: ['paused', 'was paused already'],
  resume: ['resumed', 'was not paused'],
  stop: ['stopped', 'was stopped already'],
};

function controlCommand(operation: AgentOperation, description: string): Command {
  const command = new Command(operation)
    .description(description)
    .argument('<id>', 'agent id')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON');
  if (operation === 'pause')
    command.option('--reason <text>', 'why (shown as its pause reason; default manual)');
  return command.action(async (id: string, opts: { store: string; json?: boolean; reason?: string }) => {
    await withSession(opts.store, async ({ store, registry }) => {
      const agent = await operateAgent(
        { store, registry, clock: systemClock },
        {
          operation,
          agentId: id,
          actor: actor(),
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        },
      );
      const [done, already] = DONE[operation];
      createOutput(opts.json === true).result({ agent }, () =>
        visible(`agent ${agent.agentId} ${agent.changed ? done : already}`),
      );
    });
  });
}

export function agentsCommand(): Command {
  const command = new Command('agents').description(
    "list agents; pause, resume or stop one; list and change an agent's schedules",
  );
  const subs = [
    listCommand(),
    controlCommand('pause', 'pause an agent: no new work; its running task finishes'),
    controlCommand('resume', 'resume a paused agent (its error streak starts from zero)'),
    controlCommand('stop', 'stop an agent: its host ends it; it runs again only when started'),
    schedulesCommand(),
    scheduleCommand(actor),
  ];
  for (const sub of subs)
    command.addCommand(
      sub.showHelpAfterError().exitOverride(),
      sub.name() === 'list' ? { isDefault: true } : {},
    );
  return command;
}

interface Options {
  readonly store: string;
  readonly json?: boolean;
  readonly capability?: string;
  readonly health?: Health;
  readonly limit?: number;
  readonly cursor?: string;
}
