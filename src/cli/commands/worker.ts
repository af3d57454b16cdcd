/** `garrison worker`: a node without HTTP that runs workflows and agents from the store until SIGTERM. */
import { Command } from 'commander';
import { checkOtlpUrl } from '../../telemetry/index.js';
import { checkNodeOptions } from '../node-options.js';
import { drainOnSignal, startAppNode, type NodeCommandOptions } from '../node-runner.js';
import { parsePositiveInt } from '../parse.js';
import { storeOption } from '../store-option.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('run a node (no HTTP): executes workflows and agents from the store until SIGTERM')
    .addOption(storeOption())
    .option('--name <name>', "this node's id in the cluster (default <hostname>-<pid>)")
    .option('--config <file>', 'a JSON node configuration file')
    .option('--app <module>', 'the application module to run (its default export, made with defineApp)')
    .option(
      '--otlp <url>',
      'export trace spans to this OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318/v1/traces)',
    )
    .option(
      '--agents <n>',
      "agents of each of the app's agent types on this node (default the app's counts)",
      parsePositiveInt,
    )
    .action(async (o: NodeCommandOptions) => {
      // Every option is checked before the store is opened: a refusal leaves the store untouched.
      checkNodeOptions(o);
      if (o.otlp !== undefined) checkOtlpUrl(o.otlp);
      const running = await startAppNode(o, 'garrison worker');
      const node = running.node;
      process.stderr.write(
        `garrison worker ${node.id} running on ${node.store.dialect}; SIGTERM drains and stops\n`,
      );
      await drainOnSignal(running, `garrison worker ${node.id}`);
    });
}
