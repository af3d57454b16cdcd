/**
 * Workflows under kill -9, on SQLite and PostgreSQL: a thousand runs of ten steps executed by worker
 * processes (a WorkflowSupervisor each) that are killed with SIGKILL at random moments and that kill
 * themselves at named crash points — after an effect before its journal write, after the journal write
 * before the engine hears of it, between a claim and the run's start, and inside the journal write's
 * transaction. Afterwards every workflow has ended with the right output, every step is journaled
 * exactly once, every effect happened exactly once after deduplication by idempotency key, and no step
 * started before the step before it was journaled.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { postgresAdapter, sqliteAdapter, type TestAdapter } from '../support/stores.js';
import type { CrashPoint } from './children/crash-points.js';
import { expectClean, History } from './history.js';
import {
  allReady,
  alive,
  between,
  Children,
  eventually,
  exited,
  LedgerReader,
  loadScaled,
  removeBundles,
  scaled,
  Scratch,
  sleep,
  terminate,
} from './support.js';

const WORKFLOWS = scaled(1000);
const STEPS = 10;
const RANDOM_KILLS = scaled(50);
const NAMED: readonly CrashPoint[] = ['effect', 'journal', 'claim', 'commit'];
const EACH_NAMED = scaled(3);

interface Setup {
  readonly adapter: TestAdapter;
  /** Worker processes running at once. */
  readonly slots: number;
  /** Node id of a slot's life: the same across restarts (resumes its runs at once) or new each time. */
  readonly node: (slot: number, life: number) => string;
  readonly leaseMs: number;
  readonly scanMs: number;
  readonly maxRunning: number;
  readonly stepMs: number;
}

const setups: readonly Setup[] = [
  // SQLite has one writer: one worker process at a time (two would mostly wait for each other's file
  // lock), under the same node id after each restart, so it resumes the runs it owned at once.
  {
    adapter: sqliteAdapter,
    slots: 1,
    node: (slot) => `node-${slot}`,
    leaseMs: 30_000,
    scanMs: 1000,
    maxRunning: 32,
    stepMs: 10,
  },
  // PostgreSQL: two worker processes, a new node each life, so the runs of a killed node are taken over
  // by whichever node gets them first once their lease ends.
  {
    adapter: postgresAdapter,
    slots: 2,
    node: (slot, life) => `node-${slot}-${life}`,
    leaseMs: 1000,
    scanMs: 250,
    maxRunning: 48,
    stepMs: 10,
  },
];

/** Every run made durable `pending` before any worker exists (an engine that executes nothing). */
async function startRuns(store: Store, history: History): Promise<string[]> {
  const chaosSteps = defineWorkflow('chaos-steps', async (_ctx, n: number) => n);
  const engine = createWorkflowEngine({ store, nodeId: 'starter', autoExecute: false });
  engine.register(chaosSteps);
  const ids = Array.from({ length: WORKFLOWS }, (_, n) => `wf-${String(n).padStart(5, '0')}`);
  for (const id of ids) for (let s = 0; s < STEPS; s++) history.ask(`${id}:${s}`);
  await Promise.all(
    ids.map(async (id, n) => {
      await engine.start(chaosSteps, n, { workflowId: id });
      for (let s = 0; s < STEPS; s++) history.acknowledge(`${id}:${s}`);
    }),
  );
  await engine.stop();
  return ids;
}

describe.each(setups)('workflows under kill -9 ($adapter.name)', (setup) => {
  const children = new Children();
  const scratch = new Scratch();
  const stores: Store[] = [];
  afterEach(async () => {
    await children.killAll();
    for (const s of stores.splice(0)) await s.close();
    scratch.cleanup();
  });
  afterAll(removeBundles);

  it(
    `${WORKFLOWS} workflows x ${STEPS} steps, ${RANDOM_KILLS} SIGKILLs at random moments and ${EACH_NAMED} at each named crash point: every workflow ends, each step journaled once, effects once after dedupe, no step before its predecessor is journaled`,
    { timeout: 300_000 },
    async () => {
      const { adapter } = setup;
      const url = adapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      const history = new History(`workflows under kill -9 (${adapter.name}, ${setup.slots} workers)`);
      await startRuns(store, history);
      const path = join(scratch.folder(), 'ledger.jsonl');
      const ledger = new LedgerReader(path);
      const total = WORKFLOWS * STEPS;
      const effected = () =>
        new Set(
          ledger
            .all()
            .filter((l) => l.e === 'f')
            .map((l) => l.k),
        ).size;

      // The plan: random kills and named crash points, shuffled, shared by the slots.
      // The plan: random kills, with the named crash points among the first three quarters (while there
      // is work to reach them), shared by the slots.
      const plan: Array<CrashPoint | 'random'> = Array.from(
        { length: RANDOM_KILLS },
        () => 'random' as const,
      );
      for (const point of NAMED.flatMap((p) => Array.from({ length: EACH_NAMED }, () => p)))
        plan.splice(between(0, Math.floor((plan.length * 3) / 4)), 0, point);
      const planned = plan.length;
      let lives = 0;
      const folder = scratch.folder();
      /**
       * A worker process loaded ahead and waiting for its go (the previous one of its slot still runs),
       * so a restart costs no start-up time.
       */
      const prepare = async (slot: number, crash?: string) => {
        const go = join(folder, `go-${++lives}`);
        const args = [
          url,
          path,
          setup.node(slot, lives),
          setup.maxRunning,
          setup.leaseMs,
          setup.scanMs,
          STEPS,
          setup.stepMs,
        ];
        const env: Record<string, string> = { GARRISON_CHAOS_GO: go };
        if (crash !== undefined) env.GARRISON_CHAOS_CRASH = crash;
        const child = await children.start('workflow-worker', args, env);
        return { child, go: () => writeFileSync(go, '') };
      };
      /** Steps a life may start before its kill: random, sized so the plan outlasts the work. */
      const budget = () => {
        const left = total - effected();
        const most = Math.min((0.8 * left) / (plan.length + 1), (0.8 * left) / setup.slots);
        return between(1, Math.max(1, Math.floor(most)));
      };
      const crashOf = (fault: CrashPoint | 'random') =>
        fault === 'random'
          ? undefined
          : `${fault}:${fault === 'claim' ? 1 : between(1, Math.max(1, Math.ceil(budget() / 4)))}`;

      /**
       * Waits until a process has started `wanted` steps (or died); gives up when it started none for
       * `idleMs` (no work left that it may take). Answers whether it was still working.
       */
      const working = async (child: ChildProcess, wanted: number, idleMs: number): Promise<boolean> => {
        let seen = -1;
        let since = Date.now();
        for (;;) {
          const n = ledger.count('s', child.pid);
          if (n >= wanted || !alive(child)) return true;
          if (n !== seen) [seen, since] = [n, Date.now()];
          else if (Date.now() - since > idleMs) return false;
          await sleep(10);
        }
      };
      let idleKills = 0;

      const runSlot = async (slot: number): Promise<ChildProcess> => {
        let fault = plan.shift();
        let next = await prepare(slot, fault === undefined ? undefined : crashOf(fault));
        while (fault !== undefined) {
          const life = next;
          const wanted = budget();
          life.go();
          const following = plan.shift();
          next = await prepare(slot, following === undefined ? undefined : crashOf(following));
          if (fault === 'random') {
            if (!(await working(life.child, wanted, loadScaled(2000)))) idleKills++;
            await sleep(between(0, 20));
            life.child.kill('SIGKILL');
            history.fault('sigkill at a random moment');
          } else {
            // It dies at its crash point; one that never gets there (no work left for it) is killed.
            await working(life.child, Infinity, loadScaled(3000));
            life.child.kill('SIGKILL');
          }
          await exited(life.child);
          fault = following;
        }
        // The last life of the slot runs to the end.
        next.go();
        return next.child;
      };
      const last = await Promise.all(Array.from({ length: setup.slots }, (_, slot) => runSlot(slot)));
      const journaledThen = await store.query<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM garrison_workflow_steps',
      );
      history.figure(
        'steps journaled when the last fault struck',
        `${Math.round((100 * Number(journaledThen[0]?.n ?? 0)) / total)} %`,
      );
      const named = ledger.all().filter((l) => l.e === 'crash');
      for (const line of named) history.fault(`crash point ${String(line.point)}`);

      const completed = async () => {
        const rows = await store.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
        );
        return Number(rows[0]?.n ?? 0);
      };
      await eventually(async () => (await completed()) === WORKFLOWS, 'every workflow completes', 180_000);
      await allReady(ledger, last);
      for (const w of last) expect(await terminate(w)).toBe(0);

      // Every run ended with its output; the journal holds each step once, in order.
      const runs = await store.query<{ id: string; status: string; output: string }>(
        'SELECT id, status, output FROM garrison_workflow_runs ORDER BY id',
      );
      expect(runs).toHaveLength(WORKFLOWS);
      history.watch('wrong output');
      for (const [n, run] of runs.entries())
        if (run.status !== 'completed' || JSON.parse(run.output) !== STEPS * n + (STEPS * (STEPS - 1)) / 2)
          history.violation('wrong output', `${run.id}: ${run.status} ${run.output}`);
      const journal = await store.query<{
        run_id: string;
        idx: number;
        name: string;
        status: string;
        created_at: number | string;
        updated_at: number | string;
      }>('SELECT run_id, idx, name, status, created_at, updated_at FROM garrison_workflow_steps');
      const journaledAt = new Map<string, { created: number; updated: number }>();
      history.watch('journal entry not completed');
      for (const row of journal) {
        const key = `${row.run_id}:${Number(row.idx)}`;
        history.hold(key);
        journaledAt.set(key, { created: Number(row.created_at), updated: Number(row.updated_at) });
        if (row.status !== 'completed' || row.name !== `step-${Number(row.idx)}`)
          history.violation('journal entry not completed', `${key} ${row.name} ${row.status}`);
      }
      // No step N+1 before step N: its entry is made after N's, and every start of it comes after N's
      // journal write (N's entry is stamped before its commit, so an earlier start would be before it).
      history.watch('step before its predecessor was journaled');
      for (const [key, at] of journaledAt) {
        const [run, idx] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
        if (idx === 0) continue;
        const before = journaledAt.get(`${run}:${idx - 1}`);
        if (before === undefined || at.created < before.updated)
          history.violation('step before its predecessor was journaled', key);
      }
      const lines = ledger.all();
      for (const line of lines) {
        if (line.e === 'f') history.observe(`${String(line.w)}:${String(line.i)}`, line.k as string);
        if (line.e === 's' && (line.i as number) > 0) {
          const before = journaledAt.get(`${String(line.w)}:${(line.i as number) - 1}`);
          if (before === undefined || line.t < before.updated)
            history.violation(
              'step before its predecessor was journaled',
              `${String(line.w)}:${String(line.i)} started at ${line.t}`,
            );
        }
      }
      history.figure('worker lives', lives);
      history.figure('random kills that found the worker idle', idleKills);
      history.figure('errors reported by workers', lines.filter((l) => l.e === 'err').length);
      const report = history.check({ evidence: 'both', duplicates: 'deduplicated' });
      expectClean(report);
      expect(report.items).toBe(total);
      expect(report.faultsByKind['sigkill at a random moment']).toBe(RANDOM_KILLS);
      for (const point of NAMED)
        expect(report.faultsByKind[`crash point ${point}`] ?? 0).toBeGreaterThanOrEqual(1);
      expect(report.faults).toBeGreaterThanOrEqual(planned - NAMED.length * EACH_NAMED + NAMED.length);
    },
  );
});
