/**
 * A node that checks out item "0" of the pool "gpu" through a process of its runtime (a lease of 30 s),
 * prints "ready" and waits to be killed with SIGKILL.
 * Usage: pool-crash-child.ts <store url> <start time ms>
 */
import { createCoordinationPrimitives } from '../../../src/coordination/index.js';
import { createRuntime, VirtualClock } from '../../../src/runtime/index.js';
import { openStore } from '../../../src/store/index.js';

const [url, start] = process.argv.slice(2);
if (url === undefined || start === undefined)
  throw new Error('usage: pool-crash-child.ts <store url> <start ms>');

const clock = new VirtualClock(Number(start));
const runtime = createRuntime({ clock });
const store = await openStore(url);
const node = createCoordinationPrimitives({ store, clock, runtime, nodeId: 'node-a' });
const pid = await runtime.spawn({ init: () => null }, undefined);
await node.pools.checkOut('gpu', { holder: pid, ttlMs: 30_000 });
process.stdout.write('ready\n');
process.stdin.resume(); // keeps the process alive until it is killed
