/**
 * Recovery without waiting for leases (docs/node.md, "Recovery"). Every lease here is 10 minutes, far
 * longer than any test: work resumed within a test was taken over, never expired.
 *
 * - A node killed with SIGKILL in a child process, then a node of the same host under a new name: the
 *   killed node's run in the middle of a step and its dispatched step in the middle of an agent's work
 *   are resumed at once. Under the same name, its agent's own task is resumed too.
 * - A dead node's late writes are rejected: its run's fence and its task's token moved at the takeover.
 * - A node of another host is not judged by its pid, only by `downAfterMs` of silence.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { repositoryRoot as root, scratchFolder, spawnScript } from '../support/child.js';
import { adapters, type TestAdapter } from '../support/stores.js';
import { dispatchFlow, drainAgent, localFlow, readLedger, SOLO, WORK } from './fixtures/drain-work.js';

const LEASE_MS = 600_000;
const leases = { tasks: { leaseMs: LEASE_MS }, workflows: { leaseMs: LEASE_MS } };

/** Waits for a condition with real I/O in between; fails with `what` when it never holds. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', '']);
  return done.pid;
}

async function nodeState(store: Store, id: string): Promise<string | undefined> {
  const rows = await store.query<{ state: string }>('SELECT state FROM garrison_nodes WHERE id = $1', [id]);
  return rows[0]?.state;
}

async function runRow(store: Store, id: string) {
  const rows = await store.query<{ status: string; owner: string | null; fence: number | string }>(
    'SELECT status, owner, fence FROM garrison_workflow_runs WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r === undefined ? undefined : { ...r, fence: Number(r.fence) };
}

/** Starts `recovery-node.ts` as node `name`, waits until its work is under way, and kills it with SIGKILL. */
async function killedNode(url: string, name: string, ledger: string, dir: string) {
  const child = spawnScript(join(root, 'test', 'node', 'fixtures', 'recovery-node.ts'), [
    url,
    name,
    ledger,
    dir,
  ]);
  const ready = await child.line<{ e: 'ready'; ownTask: number }>('ready');
  const exit = await child.kill();
  expect(exit.signal).toBe('SIGKILL');
  return { ownTask: ready.ownTask };
}

describe.each(adapters)('recovery of a dead node on $name', (adapter: TestAdapter) => {
  it(
    'a node of the same host under a new name resumes a killed node’s run mid-step and its dispatched step mid-work without waiting for their leases',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const dir = scratchFolder('garrison-recovery-');
      const ledger = join(dir, 'ledger.jsonl');
      await killedNode(url, 'A', ledger, dir);
      const store = await openStore(url);
      let b: GarrisonNode | undefined;
      try {
        const work = { ledger, gateDir: dir, hold: false };
        b = await startNode({
          store,
          nodeName: 'B',
          config: leases,
          workflows: [dispatchFlow(), localFlow(work, 'B')],
          agents: [drainAgent(work, WORK)],
        });
        // Marked down at B's start-up, its process being gone.
        expect(await nodeState(store, 'A')).toBe('down');
        await b.agents.start(drainAgent(work, WORK), { id: 'work-2' });
        const node = b;
        await until(
          async () =>
            (await Promise.all(['local', 'dispatched'].map((id) => node.workflows.get(id)))).every(
              (r) => r?.status === 'completed',
            ),
          'both runs to complete on B',
        );
        const done = readLedger(ledger).filter((l) => l.e === 'done');
        expect(done).toEqual(
          expect.arrayContaining([
            { e: 'done', key: 'local', by: 'B' },
            { e: 'done', key: 'dispatched', by: 'work-2' },
          ]),
        );
        expect(await b.workflows.get('local')).toMatchObject({ output: { key: 'local', by: 'B' } });
      } finally {
        await b?.stop();
        await store.close();
      }
    },
  );

  it(
    'a node already running on the same host takes a killed neighbour’s run over with its next heartbeat',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const dir = scratchFolder('garrison-recovery-');
      const ledger = join(dir, 'ledger.jsonl');
      const store = await openStore(url);
      let b: GarrisonNode | undefined;
      try {
        b = await startNode({ store, nodeName: 'B', config: leases });
        const node = b;
        const child = spawnScript(join(root, 'test', 'node', 'fixtures', 'recovery-node.ts'), [
          url,
          'A',
          ledger,
          dir,
        ]);
        await child.line('ready');
        // Known here only once A holds the run: B could not have claimed it before the kill.
        node.workflowSupervisor.register(localFlow({ ledger, gateDir: dir, hold: false }, 'B'));
        const took: string[] = [];
        node.events.on('node.took_over', ({ payload }) => {
          took.push(`${payload.node}:${payload.reason}`);
        });
        expect((await child.kill()).signal).toBe('SIGKILL');
        await until(async () => (await node.workflows.get('local'))?.status === 'completed', 'the run on B');
        expect(took).toEqual(['A:process_gone']);
        expect(await nodeState(store, 'A')).toBe('down');
        expect(readLedger(ledger).filter((l) => l.e === 'done')).toEqual([
          { e: 'done', key: 'local', by: 'B' },
        ]);
      } finally {
        await b?.stop();
        await store.close();
      }
    },
  );

  it(
    'a node restarted under the same name resumes its agent’s interrupted task and its run at once',
    { timeout: 180_000 },
    async () => {
      const url = adapter.freshUrl();
      const dir = scratchFolder('garrison-recovery-');
      const ledger = join(dir, 'ledger.jsonl');
      const { ownTask } = await killedNode(url, 'A', ledger, dir);
      const store = await openStore(url);
      let again: GarrisonNode | undefined;
      try {
        const work = { ledger, gateDir: dir, hold: false };
        // The agents recorded as running on A are resumed by the node of that name.
        again = await startNode({
          store,
          nodeName: 'A',
          config: leases,
          workflows: [dispatchFlow(), localFlow(work, 'A')],
          agents: [drainAgent(work, WORK), drainAgent(work, SOLO)],
        });
        const node = again;
        const done = (key: string) => readLedger(ledger).filter((l) => l.e === 'done' && l.key === key);
        await until(() => Promise.resolve(done('own-long').length > 0), 'the own task to be done');
        await until(
          async () => (await node.workflows.get('local'))?.status === 'completed',
          'the run to complete',
        );
        // Done once, by the agent resumed here.
        expect(done('own-long')).toEqual([{ e: 'done', key: 'own-long', by: 'solo-1' }]);
        // Settled: a finished task that is not retained is deleted.
        await until(async () => (await node.queues.getTask(ownTask)) === undefined, 'the own task settled');
        expect(done('local')).toEqual([{ e: 'done', key: 'local', by: 'A' }]);
      } finally {
        await again?.stop();
        await store.close();
      }
    },
  );

  it('a dead node’s late step completion and late task completion are rejected: the takeover moved their fences and ended its timer claims', async () => {
    const store = await adapter.open();
    const nodes: GarrisonNode[] = [];
    try {
      const gates = { a: deferred(), b: deferred() };
      const began = { a: deferred(), b: deferred() };
      const flow = (who: 'a' | 'b') =>
        defineWorkflow('fenced', (ctx) =>
          ctx.step('work', async () => {
            began[who].resolve();
            await gates[who].promise;
            return who === 'a' ? 'late' : 'fresh';
          }),
        );
      const a = await startNode({ store, nodeName: 'A', config: leases, workflows: [flow('a')] });
      nodes.push(a);
      await a.workflows.start('fenced', undefined, { workflowId: 'r' });
      await began.a.promise;
      const queues = createQueueClient({ store });
      await queues.enqueue('jobs', { n: 1 });
      const [held] = await queues.claim('jobs', { workerId: 'worker@A', leaseMs: LEASE_MS });
      const fenceBefore = (await runRow(store, 'r'))!.fence;
      // A firing of the retention timer claimed by A (as if A were firing it now), for 10 minutes.
      await store.execute(
        "UPDATE garrison_timers SET claimed_by = 'A', claim_until = $1, fence = fence + 1 WHERE id = 'garrison:retention'",
        [Date.now() + LEASE_MS],
      );
      const timer = async () =>
        (
          await store.query<{
            claimed_by: string | null;
            claim_until: number | string | null;
            fence: number | string;
          }>("SELECT claimed_by, claim_until, fence FROM garrison_timers WHERE id = 'garrison:retention'")
        )[0]!;
      const timerFenceBefore = Number((await timer()).fence);

      // A's process is dead, as the row now says (same host, a pid that has exited).
      await store.execute('UPDATE garrison_nodes SET pid = $1, process_started_at = NULL WHERE id = $2', [
        deadPid(),
        'A',
      ]);
      const b = await startNode({ store, nodeName: 'B', config: leases, workflows: [flow('b')] });
      nodes.push(b);
      await began.b.promise;
      expect((await runRow(store, 'r'))?.fence).toBeGreaterThan(fenceBefore);
      // A's timer claim ended with the takeover under a new fence (A's settle of that firing would be
      // refused); only B may have claimed it since, had it come due.
      const after = await timer();
      expect(Number(after.fence)).toBeGreaterThan(timerFenceBefore);
      expect(after.claimed_by === 'B' || Number(after.claim_until) === 0).toBe(true);

      // A's step completes late: its write is refused, and its execution ends.
      gates.a.resolve();
      await until(async () => (await a.workflowSupervisor.servers()).length === 0, "A's execution to end");
      const steps = await store.query<{ status: string }>(
        "SELECT status FROM garrison_workflow_steps WHERE run_id = 'r' AND status = 'completed'",
      );
      expect(steps).toEqual([]);
      await expect(queues.complete(held!)).rejects.toMatchObject({ code: 'lease_lost' });

      gates.b.resolve();
      await until(async () => (await b.workflows.get('r'))?.status === 'completed', 'the run on B');
      expect(await b.workflows.get('r')).toMatchObject({ status: 'completed', output: 'fresh' });
      // The task is the ordinary claim's now: a second attempt under a new token.
      const [again] = await queues.claim('jobs', { workerId: 'worker@B' });
      expect(again).toMatchObject({ id: held!.id, attempt: 2 });
      expect(again!.token).toBeGreaterThan(held!.token);
    } finally {
      for (const n of nodes.reverse()) await n.stop();
      await store.close();
    }
  });

  it('a node of another host is not judged by its pid: its run is taken over only after downAfterMs of silence', async () => {
    const store = await adapter.open();
    const clock = new VirtualClock(1_000_000);
    const timing = { heartbeatMs: 2000, downAfterMs: 15_000 };
    let node: GarrisonNode | undefined;
    try {
      const flow = defineWorkflow('far.flow', (ctx) => ctx.step('work', () => Promise.resolve('done here')));
      const client = createWorkflowEngine({
        store,
        nodeId: 'client',
        autoExecute: false,
        recoverIntervalMs: 0,
      });
      client.register(flow);
      await client.start('far.flow', undefined, { workflowId: 'far-run' });
      await client.stop();
      // A node of another machine, beating now, whose pid means nothing here, holding the run.
      await store.execute(
        'INSERT INTO garrison_nodes (id, started_at, heartbeat_at, state, info, host, pid, process_started_at) ' +
          "VALUES ('far', $1, $1, 'up', '{}', 'elsewhere.invalid', $2, NULL)",
        [clock.now(), deadPid()],
      );
      await store.execute(
        "UPDATE garrison_workflow_runs SET owner = 'far', status = 'running', lease_until = $1, fence = 1 WHERE id = 'far-run'",
        [clock.now() + LEASE_MS],
      );
      node = await startNode({
        store,
        clock,
        nodeName: 'B',
        config: { ...timing, ...leases },
        workflows: [flow],
      });
      const self = node;
      const beatAt = async (at: number) => {
        await clock.advance(at - clock.now());
        const rows = () =>
          store.query<{ heartbeat_at: number | string }>(
            "SELECT heartbeat_at FROM garrison_nodes WHERE id = 'B'",
          );
        await until(async () => Number((await rows())[0]?.heartbeat_at) >= at, `B's beat at ${at}`);
      };
      // Silent, but not for downAfterMs yet: left alone. (Each beat's handler also looks for dead nodes;
      // once beat 7 is seen, the looks of beats 1 to 6 — up to 12 s of silence — have all been made.)
      for (let t = 1; t <= 7; t++) await beatAt(1_000_000 + t * timing.heartbeatMs);
      expect(await nodeState(store, 'far')).toBe('up');
      expect(await runRow(store, 'far-run')).toMatchObject({ owner: 'far', status: 'running', fence: 1 });

      // Past downAfterMs: marked down, its run taken over long before its lease would end.
      await beatAt(1_000_000 + 8 * timing.heartbeatMs);
      await until(async () => (await self.workflows.get('far-run'))?.status === 'completed', 'the run on B');
      expect(await nodeState(store, 'far')).toBe('down');
      expect(await self.workflows.get('far-run')).toMatchObject({ output: 'done here' });
    } finally {
      await node?.stop();
      await store.close();
    }
  });
});
