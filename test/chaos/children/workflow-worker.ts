/**
 * A workflow node for the fault tests: a runtime with a WorkflowSupervisor executing the `chaos-steps`
 * runs it finds in the store. Each step appends a start line (`s`) and, as its external effect, an
 * effect line (`f`) carrying the step's idempotency key, to the ledger. `GARRISON_CHAOS_CRASH` names a
 * crash point (see crash-points.ts). Two variables hold the start back, so a process can be loaded ahead
 * and started the moment it is wanted: `GARRISON_CHAOS_GO` (a file: once loaded the node logs `waiting`,
 * and starts once the file exists — at the epoch ms the file holds, if any) and `GARRISON_CHAOS_START_AT`
 * (epoch ms: start then; two nodes start at the same moment). It logs `go` when it starts. SIGTERM stops
 * it gracefully.
 *
 *   workflow-worker.ts <url> <ledger> <node id> <max running> <lease ms> <scan ms> <steps> <step ms max>
 */
import { existsSync, readFileSync } from 'node:fs';
import { createWorkflowSupervisor } from '../../../src/coordination/index.js';
import { createRuntime, systemClock } from '../../../src/runtime/index.js';
import { openStore } from '../../../src/store/index.js';
import { defineWorkflow } from '../../../src/work/index.js';
import { crashPoints } from './crash-points.js';
import { args, ledger } from './ledger.js';

const a = args('workflow-worker.ts', [
  'url',
  'ledger',
  'node',
  'maxRunning',
  'leaseMs',
  'scanMs',
  'steps',
  'stepMs',
]);
const log = ledger(a.ledger);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const steps = Number(a.steps);
const stepMs = Number(a.stepMs);

let stop: () => Promise<void> = async () => undefined;
let ready!: () => void;
const started = new Promise<void>((resolve) => (ready = resolve));
process.on('SIGTERM', () => {
  void started.then(() => stop()).then(() => process.exit(0));
});

const opened = await openStore(a.url);
const crash = crashPoints(opened, process.env.GARRISON_CHAOS_CRASH, log);

const chaosSteps = defineWorkflow('chaos-steps', async (ctx, n: number) => {
  let total = 0;
  for (let s = 0; s < steps; s++) {
    total += await ctx.step(`step-${s}`, async (step) => {
      log({ e: 's', w: ctx.workflowId, i: s });
      if (stepMs > 0) await sleep(Math.floor(Math.random() * stepMs));
      // The external effect: at least once, with the idempotency key for the other side's dedupe.
      log({ e: 'f', w: ctx.workflowId, i: s, k: step.idempotencyKey });
      crash.reached('effect');
      return n + s;
    });
  }
  return total;
});

const runtime = createRuntime({ clock: systemClock });
const workflows = createWorkflowSupervisor({
  runtime,
  store: crash.store,
  nodeId: a.node,
  maxRunning: Number(a.maxRunning),
  leaseMs: Number(a.leaseMs),
  scanIntervalMs: Number(a.scanMs),
  workflows: [chaosSteps],
  onError: (error) => log({ e: 'err', m: String(error) }),
});
stop = async () => {
  await workflows.stop();
  await runtime.shutdown();
  await opened.close();
};
const go = process.env.GARRISON_CHAOS_GO;
let startAt = Number(process.env.GARRISON_CHAOS_START_AT ?? 0);
if (go !== undefined) {
  log({ e: 'waiting', node: a.node });
  while (!existsSync(go)) await sleep(5);
  startAt = Math.max(startAt, Number(readFileSync(go, 'utf8') || 0));
}
if (startAt > Date.now()) await sleep(startAt - Date.now());
log({ e: 'go', node: a.node });
await workflows.start();
ready();
log({ e: 'ready', node: a.node });
