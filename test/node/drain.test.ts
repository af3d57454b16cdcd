/**
 * The graceful drain, end to end: a node in a child process (`fixtures/drain-node.ts`, with the signal
 * handling of `garrison worker`) holds long agent tasks, a long in-process workflow step, running
 * workflows and a short task, and gets a real SIGTERM. Work is leased for 10 minutes: anything another
 * node takes over within the test was handed back, not left to expire. One scenario per store; each
 * `it` checks one guarantee of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentQueueName } from '../../src/agents/index.js';
import { createCoordinationPrimitives, WORKFLOWS_PENDING_CHANNEL } from '../../src/coordination/index.js';
import {
  heldByNode,
  listNodes,
  startNode,
  type DrainReport,
  type NodeHoldings,
} from '../../src/node/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createQueueClient, createWorkflowEngine, type WorkflowRun } from '../../src/work/index.js';
import { repositoryRoot as root, scratchFolder, spawnScript } from '../support/child.js';
import { adapters, type TestAdapter } from '../support/stores.js';
import {
  dispatchFlow,
  drainAgent,
  localFlow,
  readLedger,
  WORK,
  type LedgerLine,
} from './fixtures/drain-work.js';

/** The draining node's deadline for work in hand, ms. */
const DRAIN_MS = 8000;
/** How long the child may take beyond its deadline before it is killed (the test then fails), ms. */
const MARGIN_MS = 60_000;
const LEASE_MS = 600_000;
const RUNS = ['dispatch-long-1', 'dispatch-long-2', 'dispatch-short', 'local-long', 'late-run'];
const LONG = ['dispatch-long-1', 'dispatch-long-2', 'local-long'];

/** The draining node, `fixtures/drain-node.ts`, in a child process. */
function startChild(args: string[]) {
  const child = spawnScript(join(root, 'test', 'node', 'fixtures', 'drain-node.ts'), args);
  return {
    /** The first JSON line on stdout whose `e` is `event`; rejects, showing its stderr, if the child exits first. */
    line: (event: string) => child.line<{ e: string } & Record<string, unknown>>(event),
    /** What the child wrote on stderr so far (shown when the test fails). */
    stderr: () => child.stderr(),
    kill(signal: NodeJS.Signals) {
      child.signal(signal);
      // A child that does not finish its drain in time fails the test instead of hanging it.
      setTimeout(() => child.signal('SIGKILL'), DRAIN_MS + MARGIN_MS).unref();
    },
    exited: child.exited.then(({ code, signal }) => ({ code, signal })),
  };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface TaskRow {
  id: number;
  state: string;
  attempts: number;
  leased_by: string | null;
}

async function taskRows(store: Store, ids: readonly number[]): Promise<Map<number, TaskRow>> {
  if (ids.length === 0) return new Map();
  const rows = await store.query<TaskRow>(
    `SELECT id, state, attempts, leased_by FROM garrison_tasks WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
    [...ids],
  );
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id), attempts: Number(r.attempts) }]));
}

async function runRow(store: Store, id: string) {
  const rows = await store.query<{ owner: string | null; status: string }>(
    'SELECT owner, status FROM garrison_workflow_runs WHERE id = $1',
    [id],
  );
  return rows[0];
}

interface Observed {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  report: DrainReport;
  heldBefore: NodeHoldings;
  /** The draining node's holdings once it exited. */
  heldAfter: NodeHoldings;
  stateAfter: string | undefined;
  /** The agent task of each key, as its `start` line on the draining node gave it. */
  taskOf: Map<string, number>;
  /** The held tasks as they were once the draining node had exited (before the second node started). */
  handedBackRows: Map<number, TaskRow>;
  /** The earliest a lease held when SIGTERM was sent would have expired (UNIX ms). */
  leasesExpireAt: number;
  /** When the second node had finished every run (UNIX ms). */
  takenOverAt: number;
  runs: Array<WorkflowRun | undefined>;
  ownTask: number;
  ownTaskAfter: TaskRow | undefined;
  lateTask: number;
  lateTaskAfterDrain: TaskRow | undefined;
  lateRunAfterDrain: { owner: string | null; status: string } | undefined;
  /** Whether the second node took the lock and the leadership the first held, without waiting. */
  tookCoordination: { lock: boolean; leader: boolean };
  secondReport: DrainReport;
  secondHeld: NodeHoldings;
  ledger: LedgerLine[];
}

async function scenario(adapter: TestAdapter): Promise<Observed> {
  const url = adapter.freshUrl();
  const store = await openStore(url);
  // Removed at the end of the file, after the child is reaped.
  const dir = scratchFolder('garrison-drain-');
  const ledger = join(dir, 'ledger.jsonl');
  const client = createWorkflowEngine({ store, nodeId: 'client', autoExecute: false, recoverIntervalMs: 0 });
  client.register(dispatchFlow());
  try {
    const child = startChild([url, 'A', ledger, dir, String(DRAIN_MS)]);
    const ready = await child.line('ready');
    const heldBefore = await heldByNode(store, 'A', Date.now());
    const leases = await store.query<{ until: number | string | null }>(
      "SELECT MIN(lease_until) AS until FROM garrison_tasks WHERE state = 'running'",
    );
    const runLeases = await store.query<{ until: number | string | null }>(
      "SELECT MIN(lease_until) AS until FROM garrison_workflow_runs WHERE owner = 'A' AND lease_until > 0",
    );
    const leasesExpireAt = Math.min(Number(leases[0]?.until), Number(runLeases[0]?.until));

    child.kill('SIGTERM');
    const state = async () =>
      (await listNodes(store, Date.now(), { heartbeatMs: 2000, downAfterMs: 15_000 }))[0];
    await until(async () => (await state())?.state === 'draining', 'the node to be draining').catch(
      (error: unknown) => {
        throw new Error(`${String(error)}; the node's stderr:\n${child.stderr()}`);
      },
    );
    // New work after the signal: a task sent to an idle agent of the draining node, and a run (every
    // node's launcher is woken for it).
    const queues = createQueueClient({ store });
    const lateTask = await queues.enqueue(agentQueueName('solo-A-2'), {
      action: 'work',
      input: { kind: 'short', key: 'late-own' },
    });
    await client.start('drain.dispatch', { kind: 'short', key: 'late-run' }, { workflowId: 'late-run' });
    await store.notify(WORKFLOWS_PENDING_CHANNEL);
    // The short task may finish now, during the drain.
    writeFileSync(join(dir, 'short-go'), '');

    const exit = await child.exited;
    const drained = await child.line('drained');
    const heldAfter = await heldByNode(store, 'A', Date.now());
    const stateAfter = (await state())?.state;
    const taskOf = new Map<string, number>();
    for (const l of readLedger(ledger))
      if (l.e === 'start' && l.task !== undefined) taskOf.set(l.key, l.task);
    const handedBackRows = await taskRows(store, [...taskOf.values()]);
    const ownTask = Number(ready.ownTask);
    const lateTaskAfterDrain = (await taskRows(store, [lateTask.id])).get(lateTask.id);
    const lateRunAfterDrain = await runRow(store, 'late-run');

    // The second node: the same workflows and a team of its own; its work does not hold.
    const work = { ledger, gateDir: dir, hold: false };
    const b = await startNode({
      store,
      nodeName: 'B',
      config: { tasks: { leaseMs: LEASE_MS }, workflows: { leaseMs: LEASE_MS } },
      workflows: [dispatchFlow(), localFlow(work, 'B')],
      agents: [drainAgent(work, WORK)],
    });
    for (let i = 1; i <= 3; i++) await b.agents.start(drainAgent(work, WORK), { id: `work-B-${i}` });
    await until(
      async () =>
        (await Promise.all(RUNS.map((id) => b.workflows.get(id)))).every((r) => r?.status === 'completed'),
      'every run to complete on the second node',
    );
    const takenOverAt = Date.now();
    const runs = await Promise.all(RUNS.map((id) => b.workflows.get(id)));
    const ownTaskAfter = (await taskRows(store, [ownTask])).get(ownTask);
    const primitives = createCoordinationPrimitives({ store, clock: b.clock, nodeId: 'B' });
    const tookCoordination = {
      lock: (await primitives.locks.tryAcquire('drain-lock', { holder: 'B', ttlMs: 60_000 })) !== undefined,
      leader: (await primitives.leaders.campaign('drain-group', 'B', { ttlMs: 60_000 })).elected,
    };
    await primitives.close();
    const secondReport = await b.stop();
    const secondHeld = await heldByNode(store, 'B', Date.now());
    return {
      exit,
      report: drained.report as DrainReport,
      heldBefore,
      heldAfter,
      stateAfter,
      taskOf,
      handedBackRows,
      leasesExpireAt,
      takenOverAt,
      runs,
      ownTask,
      ownTaskAfter,
      lateTask: lateTask.id,
      lateTaskAfterDrain,
      lateRunAfterDrain,
      tookCoordination,
      secondReport,
      secondHeld,
      ledger: readLedger(ledger),
    };
  } finally {
    await client.stop();
    await store.close();
  }
}

const EMPTY: NodeHoldings = {
  tasks: [],
  workflowRuns: [],
  coordinationLeases: [],
  agents: [],
  timerClaims: [],
};

describe.each(adapters)('graceful drain on $name', (adapter) => {
  let o: Observed;
  beforeAll(async () => {
    o = await scenario(adapter);
  }, 300_000);

  const lines = (key: string, e: LedgerLine['e']) => o.ledger.filter((l) => l.key === key && l.e === e);

  it('SIGTERM: the node exits 0 after its deadline, leaves nothing leased, and a second node takes every handed-back item over at once and completes it once', () => {
    // It held the long work, the short task, the runs and its agents' entries when the signal came.
    expect(o.heldBefore.tasks).toHaveLength(4);
    // The run in a long local step is held; the runs waiting for their dispatched steps are parked
    // (held by no node: their tasks, on the agents, are what is in hand).
    expect(o.heldBefore.workflowRuns).toContain('local-long');
    expect(o.heldBefore.workflowRuns).not.toContain('dispatch-long-1');
    expect(o.heldBefore.workflowRuns).not.toContain('dispatch-long-2');
    expect(o.heldBefore.agents).toHaveLength(5);
    expect(o.heldBefore.coordinationLeases).toEqual(['leader:drain-group', 'lock:drain-lock']);

    expect(o.exit).toEqual({ code: 0, signal: null });
    expect(o.heldAfter).toEqual(EMPTY);
    expect(o.stateAfter).toBe('down');

    // The deadline came with long work in hand: handed back, and said so.
    const longTasks = ['dispatch-long-1', 'dispatch-long-2', 'own-long'].map((k) => o.taskOf.get(k));
    expect(o.report.timedOut).toBe(true);
    expect([...o.report.handedBack.tasks].sort()).toEqual([...longTasks].sort());
    expect(o.report.handedBack.workflowRuns).toContain('local-long');
    expect([...o.report.handedBack.agents].sort()).toEqual(
      ['solo-A-1', 'solo-A-2', 'work-A-1', 'work-A-2', 'work-A-3'].sort(),
    );
    expect(o.report.handedBack.coordinationLeases).toEqual(['leader:drain-group', 'lock:drain-lock']);
    expect(o.report.left).toEqual(EMPTY);
    // Given back to their queues, under no lease; a started task keeps the attempt it used.
    for (const id of longTasks) {
      expect(o.handedBackRows.get(id!)).toMatchObject({ state: 'queued', leased_by: null, attempts: 1 });
    }
    for (const key of LONG)
      expect(lines(key, 'abort').map((l) => l.by)).toEqual([
        key === 'local-long' ? 'A' : expect.stringMatching(/^work-A-/),
      ]);

    // Every run completed on the second node long before a lease of the first would have expired.
    expect(o.runs.map((r) => r?.status)).toEqual(RUNS.map(() => 'completed'));
    expect(o.takenOverAt).toBeLessThan(o.leasesExpireAt);
    for (const key of LONG) {
      expect(lines(key, 'done')).toHaveLength(1);
      expect(lines(key, 'done')[0]?.by).toMatch(key === 'local-long' ? /^B$/ : /^work-B-/);
    }
    expect(o.tookCoordination).toEqual({ lock: true, leader: true });
    // A task sent to an agent itself waits, unleased, for that agent (it runs only on its node).
    expect(o.ownTaskAfter).toMatchObject({ state: 'queued', leased_by: null });
    expect(lines('own-long', 'done')).toEqual([]);
    // The second node drains cleanly too.
    expect(o.secondReport.timedOut).toBe(false);
    expect(o.secondHeld).toEqual(EMPTY);
  });

  it('work that finishes before the deadline finishes on the draining node and is not handed back', () => {
    const short = o.taskOf.get('dispatch-short');
    expect(short).toBeDefined();
    expect(o.report.finished.tasks).toContain(short);
    expect(o.report.handedBack.tasks).not.toContain(short);
    expect(lines('dispatch-short', 'start').map((l) => l.by)).toEqual([expect.stringMatching(/^work-A-/)]);
    expect(lines('dispatch-short', 'done').map((l) => l.by)).toEqual([expect.stringMatching(/^work-A-/)]);
    expect(o.runs[RUNS.indexOf('dispatch-short')]?.output).toEqual({
      key: 'dispatch-short',
      by: lines('dispatch-short', 'done')[0]?.by,
    });
  });

  it('nothing is claimed after SIGTERM: a task and a run created during the drain are left to others', () => {
    expect(o.lateTaskAfterDrain).toMatchObject({ state: 'queued', attempts: 0, leased_by: null });
    expect(lines('late-own', 'start')).toEqual([]);
    expect(o.lateRunAfterDrain).toEqual({ owner: null, status: 'pending' });
    expect(lines('late-run', 'start').map((l) => l.by)).toEqual([expect.stringMatching(/^work-B-/)]);
    expect(lines('late-run', 'done')).toHaveLength(1);
  });
});
