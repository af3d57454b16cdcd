/**
 * `garrison ai usage` (tokens of agent loops by agent, run or model, from the usage ledger) and
 * `garrison ai approve|deny RUN SIGNAL` (a decision for a tool call waiting on its approval: the signal
 * `approval:<loop>:<turn>:<tool call id>` shown by `garrison workflows show RUN`). Reads and sends
 * through the store; the AI SDK is never loaded here.
 */
import { Command } from 'commander';
import { ValidationError } from '../../errors.js';
import { listModelUsage, USAGE_GROUPS, type UsageGroup } from '../../governance/index.js';
import { createOutput, visible } from '../output.js';
import { oneOf, parseDuration, parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

export function aiCommand(): Command {
  const command = new Command('ai').description(
    'durable agent loops: token usage, and decisions for tool calls waiting on approval',
  );
  // A subcommand's bad argument must reach runCli as an error, never exit the process itself.
  for (const sub of [usageCommand(), decisionCommand('approve'), decisionCommand('deny')]) {
    command.addCommand(sub.showHelpAfterError().exitOverride());
  }
  return command;
}

function usageCommand(): Command {
  return new Command('usage')
    .description('tokens spent by agent loops, grouped by agent, run or model, most first')
    .addOption(storeOption())
    .option('--by <group>', `group by ${USAGE_GROUPS.join(', ')} (default agent)`, oneOf(USAGE_GROUPS))
    .option('--run <id>', 'only this run')
    .option('--agent <name>', 'only this agent')
    .option('--model <model>', 'only this model (<provider>/<model id>)')
    .option('--since <duration>', 'only calls within this long ago (7d, 12h, 30m, …)', parseDuration)
    .option('--limit <n>', 'most groups shown (default 100, at most 1000)', parsePositiveInt)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: UsageOptions) => {
      await withSession(opts.store, async ({ store }) => {
        const by = opts.by ?? 'agent';
        const usage = await listModelUsage(store, {
          by,
          ...(opts.run === undefined ? {} : { runId: opts.run }),
          ...(opts.agent === undefined ? {} : { agent: opts.agent }),
          ...(opts.model === undefined ? {} : { model: opts.model }),
          ...(opts.since === undefined ? {} : { since: Date.now() - opts.since }),
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        });
        createOutput(opts.json === true).result({ by, usage }, () =>
          table(
            [by, 'calls', 'input', 'output', 'total', 'last call'],
            usage.map((u) => [u.key, u.calls, u.inputTokens, u.outputTokens, u.totalTokens, when(u.lastAt)]),
          ),
        );
      });
    });
}

function decisionCommand(decision: 'approve' | 'deny'): Command {
  return new Command(decision)
    .description(
      decision === 'approve'
        ? 'approve a tool call waiting on its approval signal (it then runs)'
        : 'deny a tool call waiting on its approval signal (the model is told, with the reason)',
    )
    .argument('<run>', 'the run id')
    .argument('<signal>', 'the approval signal, approval:<loop>:<turn>:<tool call id>')
    .addOption(storeOption())
    .option('--reason <text>', 'why (a denial reason goes back to the model)')
    .option('--by <name>', 'who decides, for the record')
    .option('--json', 'print machine-readable JSON')
    .action(async (run: string, signal: string, opts: DecisionOptions) => {
      if (!signal.startsWith('approval:')) {
        throw new ValidationError(
          `"${signal}" is not an approval signal (approval:<loop>:<turn>:<tool call id>)`,
        );
      }
      const data = {
        approved: decision === 'approve',
        ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        ...(opts.by === undefined ? {} : { by: opts.by }),
      };
      await withSession(opts.store, async ({ workflows }) => {
        await workflows.signal(run, signal, data);
        createOutput(opts.json === true).result({ workflowId: run, signal, ...data }, () =>
          visible(`${decision === 'approve' ? 'approval' : 'denial'} sent to ${run} (${signal})`),
        );
      });
    });
}

interface UsageOptions {
  readonly store: string;
  readonly json?: boolean;
  readonly by?: UsageGroup;
  readonly run?: string;
  readonly agent?: string;
  readonly model?: string;
  readonly since?: number;
  readonly limit?: number;
}

interface DecisionOptions {
  readonly store: string;
  readonly json?: boolean;
  readonly reason?: string;
  readonly by?: string;
}
