/** `garrison tasks [list|show ID|cancel ID]`. */
import { Command } from 'commander';
import { GarrisonError } from '../../errors.js';
import { purgeTaskBatch, TaskState, type Task } from '../../work/queue/index.js';
import { createOutput, visible } from '../output.js';
import { listOf, parseDuration, parsePositiveInt } from '../parse.js';
import { purgeInBatches } from '../purge.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

interface Common {
  store: string;
  json?: boolean;
}

const states = Object.values(TaskState);

export function taskRow(t: Task): unknown[] {
  return [
    t.id,
    t.queue,
    t.state,
    t.priority,
    `${t.attempts}/${t.maxAttempts}`,
    t.leasedBy,
    when(t.createdAt),
  ];
}
export const taskHeaders = ['id', 'queue', 'state', 'priority', 'attempts', 'leased by', 'created'];

function listCommand(): Command {
  return new Command('list')
    .description('list tasks by id')
    .addOption(storeOption())
    .option('--queue <name>', 'only tasks of this queue')
    .option(
      '--state <states>',
      `only tasks in these states, comma-separated or repeated (${states.join(', ')})`,
      listOf(states),
    )
    .option('--limit <n>', 'most tasks shown (default 50)', parsePositiveInt)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Common & { queue?: string; state?: TaskState[]; limit?: number }) => {
      await withSession(opts.store, async ({ queues }) => {
        const tasks = await queues.listTasks({
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
          ...(opts.state === undefined ? {} : { states: opts.state }),
          limit: opts.limit ?? 50,
        });
        createOutput(opts.json === true).result({ tasks }, () => table(taskHeaders, tasks.map(taskRow)));
      });
    });
}

function showCommand(): Command {
  return new Command('show')
    .description('show one task')
    .argument('<id>', 'task id', parsePositiveInt)
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: number, opts: Common) => {
      await withSession(opts.store, async ({ queues }) => {
        const task = await queues.getTask(id);
        if (task === undefined) throw new GarrisonError('task_not_found', `no task has the id ${id}`);
        createOutput(opts.json === true).result({ task }, () =>
          [table(taskHeaders, [taskRow(task)]), visible(`payload: ${JSON.stringify(task.payload)}`)]
            .concat(task.lastError === null ? [] : [visible(`last error: ${task.lastError}`)])
            .join('\n'),
        );
      });
    });
}

function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a queued or running task')
    .argument('<id>', 'task id', parsePositiveInt)
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: number, opts: Common) => {
      await withSession(opts.store, async ({ queues }) => {
        const state = await queues.cancel(id);
        createOutput(opts.json === true).result({ id, state }, () => `task ${id}: ${state}`);
      });
    });
}

function purgeCommand(): Command {
  return new Command('purge')
    .description('delete finished tasks (completed and cancelled; dead letters: garrison dlq purge)')
    .requiredOption(
      '--older-than <duration>',
      'tasks that finished longer ago than this (7d, 12h, 30m…)',
      parseDuration,
    )
    .addOption(storeOption())
    .option('--queue <name>', 'only tasks of this queue')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Common & { olderThan: number; queue?: string }) => {
      await withSession(opts.store, async ({ store }) => {
        const filter = {
          states: ['completed', 'cancelled'] as const,
          finishedBefore: Date.now() - opts.olderThan,
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
        };
        const purged = await purgeInBatches((limit) => purgeTaskBatch(store, filter, limit));
        createOutput(opts.json === true).result({ purged }, () => `${purged} finished tasks deleted`);
      });
    });
}

export function tasksCommand(): Command {
  const command = new Command('tasks').description('list, inspect, cancel and purge queued tasks');
  for (const sub of [listCommand(), showCommand(), cancelCommand(), purgeCommand()])
    command.addCommand(
      sub.showHelpAfterError().exitOverride(),
      sub.name() === 'list' ? { isDefault: true } : {},
    );
  return command;
}
