/**
 * The multi-step transaction the all-or-nothing and crash tests run: a seed state of four agents, then
 * seven steps mixing register, update and unregister (including updates and a removal of agents the same
 * transaction registered or changed).
 */
import type { AgentRegistry, RegistryTx } from '../../../src/registry/index.js';
import { agent } from './fixtures.js';

export async function seed(registry: AgentRegistry): Promise<void> {
  await registry.registerMany([
    agent('s1', { capabilities: ['alpha'], metadata: { region: { zone: 'eu-1' } } }),
    agent('s2', { capabilities: ['alpha', 'beta'], node: 'node-b', process: 'p2' }),
    agent('s3', { capabilities: ['gamma'], type: 'worker', resources: { load: 0.1 } }),
    agent('s4', { capabilities: ['beta'], health: 'degraded', metadata: { tags: ['x', 'y'] } }),
  ]);
}

/** The steps, in order. Each takes the transaction and does one registry operation. */
export const STEPS: ReadonlyArray<{ readonly name: string; run(tx: RegistryTx): Promise<unknown> }> = [
  {
    name: 'register n1',
    run: (tx) => tx.register(agent('n1', { capabilities: ['alpha', 'delta'], metadata: { fresh: true } })),
  },
  {
    name: 'update s1 (capabilities, resources, health)',
    run: (tx) =>
      tx.update('s1', (a) => ({
        capabilities: [...a.capabilities, 'epsilon'],
        resources: { ...a.resources, load: 0.75 },
        health: 'degraded',
      })),
  },
  { name: 'unregister s2', run: (tx) => tx.unregister('s2', { reason: 'moved' }) },
  {
    name: 'update n1 (metadata, resources)',
    run: (tx) => tx.update('n1', { metadata: { fresh: false, level: 2 }, resources: { load: 0.01 } }),
  },
  { name: 'register n2', run: (tx) => tx.register(agent('n2', { capabilities: ['beta'], node: 'node-c' })) },
  { name: 'update metadata of s3', run: (tx) => tx.updateMetadata('s3', { region: { zone: 'us-2' } }) },
  { name: 'unregister s4', run: (tx) => tx.unregister('s4') },
];

/** Runs steps `from` (inclusive) to `to` (exclusive) in order. */
export async function runSteps(tx: RegistryTx, from = 0, to = STEPS.length): Promise<void> {
  for (const step of STEPS.slice(from, to)) await step.run(tx);
}
