/**
 * Runtime benchmark: memory per idle process (100k processes) and message throughput between two
 * processes. `npx tsx bench/runtime.bench.ts` prints JSON; start node with --expose-gc for exact memory
 * figures (`node --expose-gc --import tsx bench/runtime.bench.ts`).
 */
import { pathToFileURL } from 'node:url';
import {
  DynamicSupervisor,
  createRuntime,
  systemClock,
  type Behaviour,
  type Pid,
  type ProcessContext,
} from '../src/runtime/index.js';

const IDLE_PROCESSES = 100_000;
const CALLS = 100_000;
const CASTS = 200_000;

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

const idle: Behaviour<number, void> = { init: () => 0 };

/** Spawns `n` idle processes and returns the heap they added per process. */
async function bytesPerIdleProcess(n: number): Promise<number> {
  const rt = createRuntime({ clock: systemClock });
  const before = heapUsed();
  const pids: Pid[] = [];
  for (let i = 0; i < n; i++) pids.push(await rt.spawn(idle, undefined));
  const after = heapUsed();
  if (rt.processCount !== n) throw new Error(`expected ${n} processes, have ${rt.processCount}`);
  return (after - before) / n;
}

/** The same under a dynamic supervisor: each child carries a link and a child entry. */
async function bytesPerSupervisedIdleProcess(n: number): Promise<number> {
  const rt = createRuntime({ clock: systemClock });
  const sup = await DynamicSupervisor.start(rt, { id: 'bench' });
  const spec = { id: 'idle', start: (o: { link: Pid }) => rt.spawn(idle, undefined, o) };
  const before = heapUsed();
  for (let i = 0; i < n; i++) await sup.startChild(spec);
  const after = heapUsed();
  if ((await sup.countChildren()) !== n) throw new Error('children missing');
  return (after - before) / n;
}

const server: Behaviour<number, void> = {
  init: () => 0,
  handleCall: (_msg, _from, state) => ({ reply: state, state }),
  handleCast: (_msg, state: number) => state + 1,
};

/** A client process that makes `msg.n` sequential calls to `msg.to` and then replies. */
const client: Behaviour<null, void> = {
  init: () => null,
  async handleCall(msg: { to: Pid; n: number }, _from, state, ctx: ProcessContext) {
    for (let i = 0; i < msg.n; i++) await ctx.runtime.call(msg.to, 'ping');
    return { reply: msg.n, state };
  },
};

async function callsPerSec(n: number): Promise<number> {
  const rt = createRuntime({ clock: systemClock });
  const to = await rt.spawn(server, undefined);
  const from = await rt.spawn(client, undefined);
  await rt.call(from, { to, n: 1000 }, { timeoutMs: 60_000 }); // warm up
  const t0 = performance.now();
  await rt.call(from, { to, n }, { timeoutMs: 600_000 });
  const secs = (performance.now() - t0) / 1000;
  await rt.shutdown();
  return n / secs;
}

/** Casts into a `block` mailbox (capacity 1000): the sender runs into backpressure, as in production. */
async function castsPerSec(n: number): Promise<number> {
  const rt = createRuntime({ clock: systemClock });
  const to = await rt.spawn(server, undefined, { overflow: 'block', mailboxCapacity: 1000 });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await rt.cast(to, i);
  const handled = await rt.call<number>(to, 'count', { timeoutMs: 60_000 });
  const secs = (performance.now() - t0) / 1000;
  if (handled !== n) throw new Error(`handled ${handled} of ${n} casts`);
  await rt.shutdown();
  return n / secs;
}

export async function run(): Promise<Record<string, number>> {
  const idleBytes = await bytesPerIdleProcess(IDLE_PROCESSES);
  const supervisedBytes = await bytesPerSupervisedIdleProcess(IDLE_PROCESSES);
  const calls = await callsPerSec(CALLS);
  const casts = await castsPerSec(CASTS);
  return {
    bytesPerIdleProcess: Math.round(idleBytes),
    bytesPerSupervisedIdleProcess: Math.round(supervisedBytes),
    callsPerSec: Math.round(calls),
    castsPerSec: Math.round(casts),
    idleProcesses: IDLE_PROCESSES,
    gcExposed: gc === undefined ? 0 : 1,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await run(), null, 2));
}
