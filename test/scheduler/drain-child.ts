/**
 * Run by process-timers-drain.test.ts in its own Node process, on the real clock: makes process timers
 * (one-shot and repeating, far in the future) and durable timers, shuts everything down, and then simply
 * returns. If any timer, monitor or poller were left, the event loop would not drain and this process
 * would never exit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock, createRuntime } from '../../src/runtime/index.js';
import { createScheduler } from '../../src/scheduler/index.js';
import { openStore } from '../../src/store/index.js';

const clock = new SystemClock();
const runtime = createRuntime({ clock });
const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'garrison-drain-')), 'g.db')}`);
const scheduler = createScheduler({ store, runtime, clock, nodeId: 'drain' });
const owners = await Promise.all(
  [0, 1, 2].map(() =>
    runtime.spawn({ init: () => null, handleInfo: (_m: unknown, s: null) => s }, undefined),
  ),
);
for (const [i, pid] of owners.entries()) {
  scheduler.after(pid, 3_600_000 + i, 'in an hour');
  scheduler.every(pid, 600_000, 'every ten minutes');
}
scheduler.durable.on('later', () => undefined);
await scheduler.durable.schedule({ topic: 'later', delayMs: 3_600_000 });
await scheduler.durable.schedule({ topic: 'later', cron: '0 0 * * *' });
await scheduler.start();

await scheduler.shutdown();
await runtime.shutdown();
await store.close();
const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate');
process.stdout.write(`${JSON.stringify({ listed: scheduler.list().length, timers })}\n`);
