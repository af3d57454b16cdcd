/**
 * The node the recovery benchmark kills: `startNode` under the name it is given, executing the runs of
 * `recovery-workload.ts` already in the store with the default limit of 64 at once, until SIGKILL.
 * Prints `started` once its node runs.
 *
 *   node --import tsx bench/recovery-child.ts <store url> <node name>
 */
import { startNode } from '../src/node/index.js';
import { recoveryFlow } from './recovery-workload.js';

const [url, name] = process.argv.slice(2);
if (url === undefined || name === undefined)
  throw new Error('usage: recovery-child.ts <store url> <node name>');
await startNode({ config: { store: url, nodeName: name }, workflows: [recoveryFlow()] });
process.stdout.write('started\n');
