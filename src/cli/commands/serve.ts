/** `garrison serve`: a node with the HTTP API and the dashboard, until SIGTERM. */
import { checkOtlpUrl } from '../../telemetry/index.js';
import { Command, InvalidArgumentError } from 'commander';
import { startApiServer } from '../../api/index.js';
import { checkServeOptions, collect, type ServeOptionsInput } from '../node-options.js';
import { drainOnSignal, startAppNode, type NodeCommandOptions } from '../node-runner.js';
import { parsePositiveInt } from '../parse.js';
import { storeOption } from '../store-option.js';
import { version } from '../version.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535)
    throw new InvalidArgumentError(`must be 0 to 65535, not "${value}"`);
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'run a node with the HTTP API (/v1, /metrics, /healthz, /readyz, /openapi.json) and the dashboard',
    )
    .addOption(storeOption())
    .option('--port <port>', 'port to listen on', parsePort, 7070)
    .option('--host <host>', 'address to listen on (other than loopback: a token is required)', '127.0.0.1')
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
    .option('--token-file <path>', 'require Authorization: Bearer <the token in this file> (admin scope)')
    .option('--read-token-file <path>', 'also accept the token in this file for GET routes only')
    .option(
      '--token <token>',
      'the admin token itself (visible in ps: prefer --token-file; or GARRISON_TOKEN)',
    )
    .option(
      '--allowed-host <name>',
      'a host name clients may use besides loopback names and IP addresses (repeatable)',
      collect,
    )
    .action(async (o: NodeCommandOptions & ServeOptionsInput) => {
      // Every option is checked before the store is opened: a refusal leaves the store untouched.
      const { api: options } = checkServeOptions(o);
      if (o.otlp !== undefined) checkOtlpUrl(o.otlp);
      const running = await startAppNode(o, 'garrison serve');
      let api;
      try {
        api = await startApiServer(running.node, { ...options, version });
      } catch (error) {
        await running.stop();
        throw error;
      }
      process.stderr.write(`garrison serve: node ${running.node.id}, API and dashboard at ${api.url}\n`);
      await drainOnSignal(running, `garrison serve ${running.node.id}`, () => api.close());
    });
}
