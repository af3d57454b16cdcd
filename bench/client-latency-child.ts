/**
 * The client side of the client-latency benchmark: a process with no node that starts `count` runs one
 * at a time and signals each once it waits, printing when it asked, as JSON lines
 * (`{"id", "startAt", "startedAt", "signalAt", "signalledAt"}`: before and after each call, UNIX
 * epoch ms), then `{"done": true}`.
 */
import { createClient } from '../src/client/index.js';
import { latencyProbe } from './client-latency-probe.js';

const [url, countArg] = process.argv.slice(2);
if (url === undefined || countArg === undefined) throw new Error('usage: client-latency-child <url> <count>');
const client = await createClient({ store: url });
for (let i = 0; i < Number(countArg); i++) {
  const startAt = Date.now();
  const handle = await client.start(latencyProbe, { i });
  const startedAt = Date.now();
  while ((await handle.get())?.status !== 'waiting') await new Promise((resolve) => setTimeout(resolve, 2));
  const signalAt = Date.now();
  await client.signal(handle.workflowId, 'go');
  const signalledAt = Date.now();
  await handle.result();
  process.stdout.write(
    `${JSON.stringify({ id: handle.workflowId, startAt, startedAt, signalAt, signalledAt })}\n`,
  );
}
await client.close();
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
