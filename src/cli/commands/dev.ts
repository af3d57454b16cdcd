/**
 * `garrison dev --app <module>`: a node, the HTTP API and the dashboard on a local SQLite store, in one
 * command, restarted on every change of the application's files. The node runs in a child process
 * (`garrison serve`), so each restart loads the application's modules afresh; a restart drains the old
 * node first (the child prints what it finished and handed back), so no work is lost across edits.
 */
import { checkOtlpUrl } from '../../telemetry/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { resolveAppPath } from '../../app/index.js';
import { watchAppFolder } from '../../app/watch.js';
import { GarrisonError } from '../../errors.js';
import { systemClock } from '../../runtime/index.js';
import { watchStopSignals } from '../stop-signals.js';

export const DEV_STORE = 'sqlite:.garrison/dev.db';

interface DevOptions {
  app: string;
  store: string;
  port: number;
  host: string;
  name: string;
  otlp?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535)
    throw new InvalidArgumentError(`must be 0 to 65535, not "${value}"`);
  return n;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** Starts `garrison serve` for the app as a child in its own process group (a terminal's Ctrl-C reaches only this process). */
function startNodeProcess(o: DevOptions, app: string): ChildProcess {
  const entry = process.argv[1];
  if (entry === undefined) throw new GarrisonError('dev_failed', 'cannot find the command line entry point');
  const args = [
    ...process.execArgv,
    entry,
    'serve',
    '--app',
    app,
    '--store',
    o.store,
    '--port',
    String(o.port),
    '--host',
    o.host,
    '--name',
    o.name,
    ...(o.otlp === undefined ? [] : ['--otlp', o.otlp]),
  ];
  // The IPC channel is only a lifeline: the node drains when it closes (this process ended, even by SIGKILL).
  return spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
}

export function devCommand(): Command {
  return new Command('dev')
    .description('run a node, the API and the dashboard for an app on a local store; restart on every change')
    .requiredOption('--app <module>', 'the application module (its default export, made with defineApp)')
    .addOption(
      new Command()
        .createOption('--store <url>', 'store URL (a local SQLite file by default)')
        .default(DEV_STORE),
    )
    .option('--port <port>', 'port of the API and dashboard', parsePort, 7070)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--name <name>', 'the node id (the same on every restart, so it takes its own work back)', 'dev')
    .option(
      '--otlp <url>',
      'export trace spans to this OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318/v1/traces)',
    )
    .action(async (o: DevOptions) => {
      const app = resolveAppPath(o.app);
      if (o.otlp !== undefined) checkOtlpUrl(o.otlp);
      const signals = watchStopSignals();
      signals.ready();
      let child: ChildProcess | undefined = startNodeProcess(o, app);
      // A last resort: this process never leaves its node running (it is in another process group).
      const killChild = () => child?.kill('SIGKILL');
      process.once('exit', killChild);
      let restarting: Promise<void> = Promise.resolve();
      let stopping = false;
      /** Children this process asked to stop: their exit is expected. */
      const stopped = new WeakSet<ChildProcess>();
      const restart = (paths: readonly string[]) => {
        restarting = restarting.then(async () => {
          const shown =
            paths.length > 5
              ? `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more`
              : paths.join(', ');
          process.stderr.write(
            `garrison dev: ${shown} changed; draining the node and starting it with the new code\n`,
          );
          const old = child;
          if (old !== undefined && old.exitCode === null && old.signalCode === null) {
            stopped.add(old);
            old.kill('SIGTERM');
            await exited(old);
          }
          if (stopping) return;
          child = startNodeProcess(o, app);
          watchExit(child);
        });
      };
      const watchExit = (c: ChildProcess) => {
        void exited(c).then((code) => {
          if (!stopped.has(c) && !stopping && code !== 0)
            process.stderr.write(
              `garrison dev: the node exited (code ${code}); waiting for a change to the app\n`,
            );
        });
      };
      watchExit(child);
      const watcher = watchAppFolder(dirname(app), { clock: systemClock, onChange: restart });
      process.stderr.write(`garrison dev: watching ${dirname(app)}; Ctrl-C stops\n`);
      const signal = await signals.first;
      stopping = true;
      watcher.close();
      process.stderr.write(`garrison dev: ${signal}, stopping the node\n`);
      await restarting;
      const last = child;
      if (last !== undefined && last.exitCode === null && last.signalCode === null) {
        stopped.add(last);
        last.kill('SIGTERM');
        await exited(last);
      }
      process.off('exit', killChild);
    });
}
