/**
 * Runs a long-lived node for `garrison worker` and `garrison serve`: the built-in workflows and agents
 * of the catalog, a graceful stop on SIGTERM/SIGINT (the node's drain: nothing new is claimed, work in
 * hand finishes until `drainTimeoutMs`, the rest is handed back; then exit), a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import { GarrisonError } from '../errors.js';
import {
  describeDrain,
  startNode,
  type DrainReport,
  type GarrisonNode,
  type NodeConfigInput,
} from '../node/index.js';
import { BreakerRegistry } from '../resilience/index.js';
import { systemClock } from '../runtime/index.js';
import { openStore } from '../store/index.js';
import { demoAgents, FlakyGateway } from './demo/agents.js';
import { ensureLedger } from './demo/ledger.js';
import { orderWorkflow } from './demo/workflows.js';

export interface NodeCommandOptions {
  store: string;
  name?: string;
  config?: string;
  agents?: number;
}

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

/** Starts a node with the catalog's workflows and agents (`agents` of each capability, default 2). */
export interface RunningNode {
  readonly node: GarrisonNode;
  /** Stops the node (graceful drain) and closes its store. */
  stop(): Promise<DrainReport>;
}

export async function startCatalogNode(o: NodeCommandOptions): Promise<RunningNode> {
  const fileConfig = o.config === undefined ? {} : readConfigFile(o.config);
  const storeUrl = o.store;
  const store = await openStore(storeUrl);
  await ensureLedger(store);
  const breakers = new BreakerRegistry({ clock: systemClock });
  const team = demoAgents({ store, clock: systemClock, breakers, gateway: new FlakyGateway(2) });
  const defs = [team.validator, team.processor, team.reporter];
  let node: GarrisonNode;
  try {
    node = await startNode({
      store,
      config: { ...fileConfig, store: storeUrl, ...(o.name === undefined ? {} : { nodeName: o.name }) },
      workflows: [orderWorkflow],
      agents: defs,
      breakers,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  for (const def of defs) {
    for (let i = 1; i <= (o.agents ?? 2); i++) {
      const id = `${def.type.replace('demo.', '')}-${node.id}-${i}`;
      if (node.agents.resumed.includes(id)) continue;
      await node.agents.start(def, { id });
    }
  }
  return {
    node,
    async stop() {
      try {
        return await node.stop();
      } finally {
        await store.close();
      }
    },
  };
}

/** Resolves when SIGTERM or SIGINT arrives; a second signal exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) process.exit(130);
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
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
  const signal = await untilSignal();
  const deadline = running.node.config.drainTimeoutMs;
  process.stderr.write(
    `${label}: ${signal}, draining (claims nothing new; work in hand has ${deadline} ms)\n`,
  );
  await before?.();
  const report = await running.stop();
  process.stderr.write(`${label}: drained, ${describeDrain(report)}\n`);
  return report;
}
