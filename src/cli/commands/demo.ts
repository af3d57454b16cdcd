/** `garrison demo`: the main job, with live progress and a summary; `--crash-at` shows a recovery. */
import { spawn, type ChildProcess } from 'node:child_process';
import { Command, InvalidArgumentError } from 'commander';
import { GarrisonError } from '../../errors.js';
import { openStore } from '../../store/index.js';
import { systemClock } from '../../runtime/index.js';
import { ensureLedger } from '../demo/ledger.js';
import { ProgressWriter } from '../demo/progress.js';
import { runDemo, watchUntilDone, type DemoSettings } from '../demo/run.js';
import { readSummary, type DemoSummary } from '../demo/summary.js';
import { orderWorkflow } from '../demo/workflows.js';
import { jsonLine } from '../output.js';
import { parsePositiveInt } from '../parse.js';

export const DEMO_STORE = 'sqlite:.garrison/demo.db';

interface DemoOptions {
  store: string;
  workflows: number;
  agents: number;
  json?: boolean;
  resume?: boolean;
  crashAt?: number;
  child?: boolean;
}

function parsePercent(value: string): number {
  const m = /^(\d{1,2})%?$/.exec(value);
  const n = m === null ? NaN : Number(m[1]);
  if (!(n >= 1 && n <= 99))
    throw new InvalidArgumentError(`must be a percentage from 1% to 99%, not "${value}"`);
  return n;
}

function printSummary(summary: DemoSummary, json: boolean, recovery?: string): void {
  const w = summary.workflows;
  if (json) {
    process.stdout.write(`${jsonLine(summary)}\n`);
    return;
  }
  const exact = summary.steps.completed === summary.steps.effects;
  process.stdout.write(
    [
      '',
      `${w.total} workflows: ${w.completed} completed, ${w.failed} failed, ${w.cancelled} cancelled, ${w.unfinished} unfinished`,
      `${summary.steps.completed} steps journaled; ${summary.steps.effects} effects in the ledger` +
        (exact ? ' — each step took effect exactly once' : ' — MISMATCH'),
      ...(summary.steps.repeats > 0
        ? [`${summary.steps.repeats} redelivered step(s) found their effect already done and did nothing`]
        : []),
      `fan-out: ${summary.fanOut.steps} charges confirmed by every validator, answers gathered ` +
        `(${summary.fanOut.answered} answers, ${summary.fanOut.failed} missing)`,
      `rate limit: payment gateway at most ${summary.rateLimiter.refillPerSecond} calls/s, bursts of ` +
        `${summary.rateLimiter.capacity} (a token bucket in the store, shared by every node)`,
      ...(recovery === undefined ? [] : [recovery]),
      `${summary.agents} agents, ${(summary.elapsedMs / 1000).toFixed(1)} s`,
      '',
    ].join('\n'),
  );
}

/** Runs this same command as a child process (the worker the crash demo kills). */
function spawnWorker(o: DemoOptions, resume: boolean): ChildProcess {
  const entry = process.argv[1];
  if (entry === undefined) throw new GarrisonError('demo_failed', 'cannot find the command line entry point');
  const args = [
    ...process.execArgv,
    entry,
    'demo',
    '--child',
    '--store',
    o.store,
    '--workflows',
    String(o.workflows),
    '--agents',
    String(o.agents),
    ...(resume ? ['--resume'] : []),
  ];
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** The crash demo: a worker process runs the job, is killed with SIGKILL partway, and a new one resumes it. */
async function crashDemo(o: DemoOptions, progress: ProgressWriter, percent: number): Promise<void> {
  const started = systemClock.now();
  const store = await openStore(o.store);
  try {
    await ensureLedger(store);
    const before = await readSummary(store, orderWorkflow.name, 0, 0);
    const expectTotal = before.workflows.total + (o.resume === true ? 0 : o.workflows);
    let note = 'worker 1 running';
    let victim: ChildProcess | undefined = spawnWorker(o, o.resume === true);
    let killedAt: DemoSummary | undefined;
    const killAt = Math.ceil((o.workflows * percent) / 100);
    const seen = await watchUntilDone(
      store,
      o.agents * 3,
      started,
      progress,
      () => ({ note }),
      (s) => {
        if (
          killedAt === undefined &&
          s.workflows.total >= expectTotal &&
          s.workflows.completed - before.workflows.completed >= killAt &&
          victim !== undefined
        ) {
          victim.kill('SIGKILL');
          killedAt = s;
          note = `worker 1 killed with SIGKILL at ${s.workflows.completed}/${s.workflows.total} completed; worker 2 resumes from the store`;
          return true;
        }
        return false;
      },
      expectTotal,
    );
    if (victim !== undefined) await exited(victim);
    let summary = seen;
    if (killedAt !== undefined) {
      victim = spawnWorker(o, true);
      summary = await watchUntilDone(
        store,
        o.agents * 3,
        started,
        progress,
        () => ({ note }),
        () => false,
        expectTotal,
      );
      const code = await exited(victim);
      if (code !== 0) throw new GarrisonError('demo_failed', `the resuming worker exited with code ${code}`);
    } else {
      victim = undefined;
    }
    const recovery =
      killedAt === undefined
        ? 'the job finished before the crash point'
        : `recovered: worker killed at ${killedAt.workflows.completed} completed, ${killedAt.workflows.unfinished} in flight; all resumed from their last journaled step`;
    printSummary({ ...summary, elapsedMs: systemClock.now() - started }, o.json === true, recovery);
  } finally {
    await store.close();
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run the main job: a team of agents works through N order workflows, with live progress')
    .option('--store <url>', 'store URL', DEMO_STORE)
    .option('--workflows <n>', 'workflows to submit', parsePositiveInt, 100)
    .option('--agents <n>', 'agents per capability (validate, process, report)', parsePositiveInt, 3)
    .option('--json', 'print the summary as JSON (last line)')
    .option('--resume', 'submit nothing new; finish the unfinished workflows in the store')
    .option(
      '--crash-at <percent>',
      'kill the worker process with SIGKILL at this share done, then resume',
      parsePercent,
    )
    .addOption(new Command().createOption('--child', 'run as the worker of --crash-at').hideHelp())
    .action(async (o: DemoOptions) => {
      const progress = new ProgressWriter(process.stderr, o.json !== true && o.child !== true);
      if (o.crashAt !== undefined) {
        await crashDemo(o, progress, o.crashAt);
        return;
      }
      const settings: DemoSettings = {
        store: o.store,
        workflows: o.workflows,
        agents: o.agents,
        resume: o.resume === true,
      };
      const summary = await runDemo(settings, progress);
      if (o.child !== true) printSummary(summary, o.json === true);
      if (summary.workflows.unfinished > 0)
        throw new GarrisonError('demo_failed', `${summary.workflows.unfinished} workflows did not finish`);
    });
}
