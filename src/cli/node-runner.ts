/**
 * Runs a long-lived node for `garrison worker` and `garrison serve`: the application given with `--app`
 * (or the configuration file's `app`) — without one, a node that runs no workflows or agents of its own
 * and writes nothing of any application to the store — and a graceful stop on SIGTERM/SIGINT (the node's
 * drain: nothing new is claimed, work in hand finishes until `drainTimeoutMs`, the rest is handed back;
 * then exit), a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineApp, loadApp, startApp, type RunningApp } from '../app/index.js';
import { GarrisonError } from '../errors.js';
import { describeDrain, parseNodeConfig, type DrainReport, type NodeConfigInput } from '../node/index.js';
import { registerOtlpTracing } from '../telemetry/index.js';
import { watchStopSignals } from './stop-signals.js';

export interface NodeCommandOptions {
  store: string;
  name?: string;
  config?: string;
  agents?: number;
  app?: string;
  otlp?: string;
}

/** The demo's application module, next to this file (`.ts` when the command runs from its sources). */
export const DEMO_APP = fileURLToPath(
  new URL(`./demo/app${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** Reads a JSON configuration file; a missing file or bad JSON is one clear error. */
export function readConfigFile(path: string): NodeConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new GarrisonError('invalid_input', `cannot read the configuration file ${path}`, { cause: error });
  }
  try {
    return JSON.parse(text) as NodeConfigInput;
  } catch (error) {
    throw new GarrisonError('invalid_input', `the configuration file ${path} is not valid JSON`, {
      cause: error,
    });
  }
}

/** A node started by a command: its application running, until `stop` drains it. */
export type RunningNode = Pick<RunningApp, 'node' | 'stop'>;

/** The application of a command: `--app`, else the configuration file's `app` (relative to that file). */
export function appPathOf(o: NodeCommandOptions, fileConfig: NodeConfigInput): string | undefined {
  if (o.app !== undefined) return resolve(o.app);
  if (fileConfig.app === undefined || o.config === undefined) return undefined;
  return resolve(dirname(resolve(o.config)), fileConfig.app);
}

/**
 * Starts a node running the command's application (`agents` of each agent type when given), and writes
 * to stderr which application it runs — or that none was given.
 */
export async function startAppNode(o: NodeCommandOptions, label: string): Promise<RunningNode> {
  const fileConfig = o.config === undefined ? {} : readConfigFile(o.config);
  const appPath = appPathOf(o, fileConfig);
  const app = appPath === undefined ? defineApp({}) : await loadApp(appPath);
  const { app: _ignored, ...config } = fileConfig;
  const nodeConfig = parseNodeConfig({
    ...config,
    store: o.store,
    ...(o.name === undefined ? {} : { nodeName: o.name }),
  });
  // Registered before the node starts, so that what it recovers at start is traced too.
  const otlp = o.otlp ?? nodeConfig.telemetry?.otlp;
  const tracing =
    otlp === undefined ? undefined : await registerOtlpTracing({ url: otlp, nodeName: nodeConfig.nodeName });
  let started: RunningApp;
  try {
    started = await startApp(app, {
      config: { ...config, store: o.store, nodeName: nodeConfig.nodeName },
      ...(o.agents === undefined ? {} : { agentsPerType: o.agents }),
    });
  } catch (error) {
    await tracing?.shutdown();
    throw error;
  }
  // The spans of the drain are sent before the process exits.
  const running: RunningNode =
    tracing === undefined
      ? started
      : {
          node: started.node,
          stop: () => started.stop().finally(() => tracing.shutdown()),
        };
  const a = started.app;
  // Started by `garrison dev` (with an IPC channel): when that process goes, even killed, this node drains.
  if (process.send !== undefined) {
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    process.channel?.unref(); // the channel alone must not keep a drained node alive
  }
  process.stderr.write(
    appPath === undefined
      ? `${label}: no --app given: this node runs no workflows or agents of its own (--app <module> names them)\n`
      : `${label}: app ${appPath}${a.version === undefined ? '' : ` ${a.version}`}: ` +
          `${a.workflows.length} workflow(s), ${started.agentIds.length} agent(s), ` +
          `${a.queues.length} queue(s), ${a.schedules.length} schedule(s)\n`,
  );
  return running;
}

/**
 * Waits for SIGTERM or SIGINT, then drains and stops the node (after `before`, e.g. closing the HTTP
 * server), writing to stderr when the drain starts and what it finished and handed back; a second signal
 * exits at once (130).
 */
export async function drainOnSignal(
  running: RunningNode,
  label: string,
  before?: () => Promise<void>,
): Promise<DrainReport> {
  const signals = watchStopSignals();
  const early = signals.received();
  signals.ready();
  const signal = await signals.first;
  const deadline = running.node.config.drainTimeoutMs;
  process.stderr.write(
    `${label}: ${signal}${early === undefined ? '' : ' during start-up'}, draining (claims nothing new; work in hand has ${deadline} ms)\n`,
  );
  await before?.();
  const report = await running.stop();
  process.stderr.write(`${label}: drained, ${describeDrain(report)}\n`);
  return report;
}
