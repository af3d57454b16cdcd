/** `garrison workflows [list|show ID|start NAME|cancel ID|signal ID NAME]`. */
import { Command } from 'commander';
import { createClient } from '../../client/client.js';
import { parseNodeConfig } from '../../node/config.js';
import { listNodes } from '../../node/membership.js';
import { unservedWorkflow } from '../../node/serves.js';
import { systemClock } from '../../runtime/index.js';
import { GarrisonError } from '../../errors.js';
import { purgeFinishedRuns, WorkflowStatus, type WorkflowRun } from '../../work/workflow/index.js';
import { createOutput, visible } from '../output.js';
import { oneOf, parseDuration, parseJsonArgument, parsePositiveInt } from '../parse.js';
import { purgeInBatches } from '../purge.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

interface Common {
  store: string;
  json?: boolean;
}

const statuses = Object.values(WorkflowStatus);

function runRow(r: WorkflowRun): unknown[] {
  return [r.id, r.name, r.status, r.owner, when(r.createdAt), when(r.finishedAt)];
}

function notFound(id: string): GarrisonError {
  return new GarrisonError('workflow_not_found', `no workflow run has the id ${id}`);
}

function listCommand(): Command {
  return new Command('list')
    .description('list workflow runs, newest first')
    .addOption(storeOption())
    .option('--status <status>', `only runs in this status (${statuses.join(', ')})`, oneOf(statuses))
    .option('--name <name>', 'only runs of this workflow')
    .option('--limit <n>', 'most runs shown (default 50)', parsePositiveInt)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Common & { status?: WorkflowStatus; name?: string; limit?: number }) => {
      await withSession(opts.store, async ({ workflows }) => {
        const runs = await workflows.list({
          ...(opts.status === undefined ? {} : { status: opts.status }),
          ...(opts.name === undefined ? {} : { name: opts.name }),
          limit: opts.limit ?? 50,
        });
        createOutput(opts.json === true).result({ workflows: runs }, () =>
          table(['id', 'name', 'status', 'owner', 'created', 'finished'], runs.map(runRow)),
        );
      });
    });
}

function showCommand(): Command {
  return new Command('show')
    .description('show one run with its step timeline')
    .argument('<id>', 'workflow run id')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, opts: Common) => {
      await withSession(opts.store, async ({ workflows }) => {
        const run = await workflows.get(id);
        if (run === undefined) throw notFound(id);
        const steps = await workflows.steps(id);
        createOutput(opts.json === true).result({ workflow: run, steps }, () =>
          [
            visible(
              `${run.id}  ${run.name}  ${run.status}${run.error ? `  (${run.error.code ?? run.error.name}: ${run.error.message})` : ''}`,
            ),
            visible(
              `created ${when(run.createdAt)}  finished ${when(run.finishedAt)}  owner ${run.owner ?? '-'}`,
            ),
            '',
            table(
              ['#', 'step', 'kind', 'status', 'attempts'],
              steps.map((s) => [s.index, s.name, s.kind, s.status, s.attempts]),
            ),
            // Why a dispatched step waits, and how its failed attempts failed.
            ...steps.flatMap((s) => [
              ...(s.waiting === undefined
                ? []
                : [visible(`step ${s.index} waits: ${s.waiting.reason} (${s.waiting.message})`)]),
              ...(s.attemptLog ?? [])
                .filter((a) => a.error !== undefined)
                .map((a) =>
                  visible(
                    `step ${s.index} attempt ${a.attempt} on ${a.agentId} failed${a.retried ? ' (retried)' : ''}: ${a.error?.code ?? a.error?.name}: ${a.error?.message}`,
                  ),
                ),
            ]),
          ].join('\n'),
        );
      });
    });
}

function startCommand(): Command {
  return new Command('start')
    .description('start a run of any workflow by name; a live node that registers it executes it')
    .argument('<name>', 'workflow name (the executing node checks the input against its schema)')
    .addOption(storeOption())
    .option('--input <json>', 'the input, as JSON', parseJsonArgument)
    .option('--id <id>', 'the run id (an idempotency key: an existing id returns the existing run)')
    .option('--json', 'print machine-readable JSON')
    .action(async (name: string, opts: Common & { input?: unknown; id?: string }) => {
      await withSession(opts.store, async ({ store }) => {
        // By name, through the client: no definition here, so any workflow a node registers can start.
        const client = await createClient({ store });
        try {
          const handle = await client.start(
            name,
            opts.input,
            opts.id === undefined ? {} : { workflowId: opts.id },
          );
          // The run is durable either way; when no live node serves it, say that it waits.
          const nodes = await listNodes(store, systemClock.now(), parseNodeConfig({ store: opts.store }));
          const unserved = unservedWorkflow(nodes, name);
          if (unserved !== undefined) {
            process.stderr.write(`garrison: warning: ${unserved.message}; the run waits for one\n`);
          }
          createOutput(opts.json === true).result(
            { workflowId: handle.workflowId, created: handle.created },
            () =>
              visible(
                handle.created ? `started ${handle.workflowId}` : `${handle.workflowId} already exists`,
              ),
          );
        } finally {
          await client.close();
        }
      });
    });
}

function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a run (compensations of its finished steps run)')
    .argument('<id>', 'workflow run id')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, opts: Common) => {
      await withSession(opts.store, async ({ workflows }) => {
        if ((await workflows.cancel(id)) === undefined) throw notFound(id);
        // A run nobody executes is taken over here to run its compensations: wait for it to end.
        await workflows.result(id, { timeoutMs: 10_000 }).catch(() => undefined);
        const run = await workflows.get(id);
        if (run === undefined) throw notFound(id);
        createOutput(opts.json === true).result({ workflow: run }, () => visible(`${run.id}: ${run.status}`));
      });
    });
}

function signalCommand(): Command {
  return new Command('signal')
    .description('send a signal to a run')
    .argument('<id>', 'workflow run id')
    .argument('<name>', 'signal name')
    .addOption(storeOption())
    .option('--data <json>', 'the signal data, as JSON', parseJsonArgument)
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, name: string, opts: Common & { data?: unknown }) => {
      await withSession(opts.store, async ({ workflows }) => {
        await workflows.signal(id, name, opts.data);
        createOutput(opts.json === true).result({ workflowId: id, signal: name, sent: true }, () =>
          visible(`signal ${name} sent to ${id}`),
        );
      });
    });
}

function purgeCommand(): Command {
  return new Command('purge')
    .description('delete finished runs (completed, failed, cancelled) with their journals and signals')
    .requiredOption(
      '--older-than <duration>',
      'runs that finished longer ago than this (7d, 12h, 30m…)',
      parseDuration,
    )
    .addOption(storeOption())
    .option('--name <name>', 'only runs of this workflow')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Common & { olderThan: number; name?: string }) => {
      await withSession(opts.store, async ({ store }) => {
        const finishedBefore = Date.now() - opts.olderThan;
        const purged = await purgeInBatches((limit) =>
          purgeFinishedRuns(store, {
            finishedBefore,
            limit,
            ...(opts.name === undefined ? {} : { name: opts.name }),
          }),
        );
        createOutput(opts.json === true).result({ purged }, () => `${purged} finished runs deleted`);
      });
    });
}

export function workflowsCommand(): Command {
  const command = new Command('workflows').description(
    'list, inspect, start, cancel, signal and purge workflow runs',
  );
  for (const sub of [
    listCommand(),
    showCommand(),
    startCommand(),
    cancelCommand(),
    signalCommand(),
    purgeCommand(),
  ]) {
    command.addCommand(
      sub.showHelpAfterError().exitOverride(),
      sub.name() === 'list' ? { isDefault: true } : {},
    );
  }
  return command;
}
