// Starts one run of hello.greet from a process that runs no node, and prints its result once a node
// running the app has finished it: `node start.mjs ada`. The store is the only link to the nodes.
import { createClient } from 'garrison/client';
import { greet } from './app.mjs';

const client = await createClient({ store: process.env.GARRISON_STORE ?? 'sqlite:.garrison/garrison.db' });
try {
  const run = await client.start(greet, { name: process.argv[2] ?? 'world' });
  console.log(await run.result({ timeoutMs: 60_000 }));
} finally {
  await client.close();
}
