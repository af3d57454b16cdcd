// Starts one run of hello.greet from a process that runs no node, and prints its result once a node
// running the app has finished it: `node start.mjs ada`.
import { openStore } from 'garrison';
import { createWorkflowEngine } from 'garrison/work';
import { greet } from './app.mjs';

const store = await openStore(process.env.GARRISON_STORE ?? 'sqlite:.garrison/garrison.db');
const engine = createWorkflowEngine({ store, nodeId: `starter-${process.pid}`, autoExecute: false });
try {
  const run = await engine.start(greet, { name: process.argv[2] ?? 'world' });
  console.log(await run.result({ timeoutMs: 60_000 }));
} finally {
  await engine.stop();
  await store.close();
}
