/**
 * `garrison agents schedules ID` and `garrison agents schedule run|pause|resume|update|remove ID NAME`:
 * an agent's schedules, listed and changed at run time through the store (each change one transaction
 * with its audit event, actor `cli:<user>@<host>`; the nodes fire the schedule's timer as it is now).
 */
import { Command } from 'commander';
import { changeSchedule, listSchedules, runScheduleNow, type ScheduleAnswer } from '../../agents/index.js';
import { systemClock } from '../../runtime/index.js';
import { createOutput, visible } from '../output.js';
import { parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

interface Options {
  readonly store: string;
  readonly json?: boolean;
}

export function schedulesCommand(): Command {
  return new Command('schedules')
    .description("list an agent's schedules: action, interval or cron, state, next run")
    .argument('<id>', 'agent id')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, opts: Options) => {
      await withSession(opts.store, async ({ store }) => {
        const schedules = await listSchedules(store, systemClock, id);
        createOutput(opts.json === true).result({ schedules }, () =>
          table(
            ['name', 'action', 'every', 'state', 'next run', 'runs', 'last error'],
            schedules.map((s) => [
              s.name,
              s.action,
              s.cron ?? `${s.everyMs} ms`,
              s.state,
              when(s.nextRunAt),
              s.runs,
              s.lastError ?? '',
            ]),
          ),
        );
      });
    });
}

const DONE = {
  run: ['queued a run of', 'queued a run of'],
  pause: ['paused', 'was paused already:'],
  resume: ['resumed', 'was not paused:'],
  update: ['changed', 'changed'],
  remove: ['removed', 'removed'],
} as const;

function say(a: ScheduleAnswer): string {
  const [done, already] = DONE[a.operation];
  const task = a.taskId === undefined ? '' : ` (task ${a.taskId})`;
  const next = a.schedule?.nextRunAt == null ? '' : `; next run ${when(a.schedule.nextRunAt)}`;
  return visible(`${a.changed ? done : already} schedule ${a.name} of agent ${a.agentId}${task}${next}`);
}

function operation(
  name: 'run' | 'pause' | 'resume' | 'remove',
  description: string,
  actor: () => string,
): Command {
  return new Command(name)
    .description(description)
    .argument('<id>', 'agent id')
    .argument('<name>', 'schedule name')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, schedule: string, opts: Options) => {
      await withSession(opts.store, async ({ store, queues }) => {
        const ctx = { store, clock: systemClock, actor: actor() };
        const answer =
          name === 'run'
            ? await runScheduleNow({ ...ctx, queues }, id, schedule)
            : await changeSchedule(ctx, { operation: name, agentId: id, name: schedule });
        createOutput(opts.json === true).result(answer, () => say(answer));
      });
    });
}

function updateCommand(actor: () => string): Command {
  return new Command('update')
    .description("change a schedule's timing: --every MS or --cron PATTERN (a paused one stays paused)")
    .argument('<id>', 'agent id')
    .argument('<name>', 'schedule name')
    .option('--every <ms>', 'run every this many ms', parsePositiveInt)
    .option('--cron <pattern>', 'run on this cron pattern')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, schedule: string, opts: Options & { every?: number; cron?: string }) => {
      await withSession(opts.store, async ({ store }) => {
        const answer = await changeSchedule(
          { store, clock: systemClock, actor: actor() },
          {
            operation: 'update',
            agentId: id,
            name: schedule,
            timing: {
              ...(opts.every === undefined ? {} : { everyMs: opts.every }),
              ...(opts.cron === undefined ? {} : { cron: opts.cron }),
            },
          },
        );
        createOutput(opts.json === true).result(answer, () => say(answer));
      });
    });
}

export function scheduleCommand(actor: () => string): Command {
  const command = new Command('schedule').description(
    "change one of an agent's schedules: run it now, pause, resume, update its timing, remove it",
  );
  for (const sub of [
    operation('run', "queue a run of the schedule's action now (its times do not change)", actor),
    operation('pause', 'stop the schedule firing until resumed', actor),
    operation('resume', 'fire the schedule again (next run counted from now)', actor),
    updateCommand(actor),
    operation('remove', 'remove the schedule for good (a restart does not bring it back)', actor),
  ])
    command.addCommand(sub.showHelpAfterError().exitOverride());
  return command.showHelpAfterError().exitOverride();
}
