/**
 * Runs the scenario's multi-step registry transaction against the store at a URL and stops dead at a
 * chosen point, printing "at <point>" so the parent can kill it there with SIGKILL:
 *   step-<i>       inside the transaction, after steps 0..i-1 have run
 *   before-commit  in the store's beforeCommit hook, every step done, COMMIT not yet sent
 *   after-commit   after the transaction has committed
 * Usage: crash-child.ts <store url> <point>
 */
import { VirtualClock } from '../../src/runtime/clock.js';
import { createRegistry } from '../../src/registry/index.js';
import { openStore } from '../../src/store/index.js';
import { START } from './support/fixtures.js';
import { STEPS } from './support/scenario.js';

const [url, point] = process.argv.slice(2);
if (url === undefined || point === undefined) throw new Error('usage: crash-child.ts <store url> <point>');

/** Tells the parent where we are, then waits to be killed (stdin keeps the process alive). */
async function stopHere(): Promise<never> {
  process.stdout.write(`at ${point}\n`);
  process.stdin.resume();
  return new Promise<never>(() => undefined);
}

const store = await openStore(url);
const registry = createRegistry({ store, clock: new VirtualClock(START) });
await registry.transaction(
  async (tx) => {
    for (let i = 0; i < STEPS.length; i++) {
      if (point === `step-${i}`) await stopHere();
      await STEPS[i]?.run(tx);
    }
  },
  { beforeCommit: point === 'before-commit' ? stopHere : undefined },
);
if (point === 'after-commit') await stopHere();
process.stdout.write('finished without stopping\n');
await store.close();
