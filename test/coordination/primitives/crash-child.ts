/**
 * A node that takes part in every primitive through a process of its runtime, prints "ready" and waits
 * to be killed with SIGKILL: it holds the lock "job" and leads the group "workers" (leases of 30 s),
 * has arrived at the barrier "phase" as "child" and voted "yes" as "v1" on the proposal "p-1".
 * Usage: crash-child.ts <store url> <start time ms>
 */
import { createCoordinationPrimitives } from '../../../src/coordination/index.js';
import { createRuntime, VirtualClock } from '../../../src/runtime/index.js';
import { openStore } from '../../../src/store/index.js';

const [url, start] = process.argv.slice(2);
if (url === undefined || start === undefined) throw new Error('usage: crash-child.ts <store url> <start ms>');

const clock = new VirtualClock(Number(start));
const runtime = createRuntime({ clock });
const store = await openStore(url);
const node = createCoordinationPrimitives({ store, clock, runtime, nodeId: 'node-a' });
const pid = await runtime.spawn({ init: () => null }, undefined);
await node.locks.acquire('job', { holder: pid, ttlMs: 30_000 });
await node.leaders.campaign('workers', pid, { ttlMs: 30_000 });
await node.barriers.arrive('phase', 'child');
await node.consensus.vote('p-1', 'v1', 'yes');
process.stdout.write('ready\n');
process.stdin.resume(); // keeps the process alive until it is killed
