/**
 * Deterministic simulation of durable workflows, on the same ground as the queue's (sim.ts): one seed
 * decides the workflows (how many steps, which are plain steps, transaction steps or sleeps), the
 * engines executing them, the store faults (before, after — the answer lost — and inside a transaction),
 * the latency of the engines' store calls, and when an engine crashes, is paused past its lease, or comes
 * back. A client engine only starts runs (retrying a start whose answer was lost with the same id); the
 * executing engines take them, and each other's, over.
 *
 * Invariants checked after the faults end and everything has drained:
 * - every acknowledged workflow completed, with the output its steps imply, and nothing else exists;
 * - its journal holds exactly one completed entry per step, in order;
 * - a transaction step's effect (a row written in the step's own transaction) exists exactly once;
 * - a plain step ran at least once, and never before the step before it was journaled.
 */
import type { Store } from '../../src/store/index.js';
import { openStore } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow, type WorkflowEngine } from '../../src/work/index.js';
import { FaultyStore, partyClock, SimulationBase, type SimulationResult } from './sim.js';

type Op = 'step' | 'tx' | 'sleep';

interface Input {
  readonly ops: readonly Op[];
}

export class WorkflowSimulation extends SimulationBase {
  async run(): Promise<SimulationResult> {
    const real = await openStore('sqlite::memory:', { now: () => this.clock.now() });
    try {
      await real.execute('CREATE TABLE sim_ledger (wf TEXT NOT NULL, idx INTEGER NOT NULL)');
      return await this.drive(real);
    } finally {
      this.faultsOn = false;
      await real.close();
    }
  }

  private ops(): Op[] {
    return Array.from({ length: this.int(2, 6) }, () => {
      const roll = this.random();
      return roll < 0.55 ? 'step' : roll < 0.85 ? 'tx' : 'sleep';
    });
  }

  private async drive(real: Store): Promise<SimulationResult> {
    const total = this.int(2, 10);
    const violations: string[] = [];
    const runs = new Map<string, Input>();
    const acked = new Set<string>();
    const effects = new Map<string, number>();
    let crashes = 0;
    let pauses = 0;

    // What a run's steps return, and so what its output must be: the sum of its step indexes.
    const expected = (input: Input) => input.ops.reduce((sum, op, i) => (op === 'sleep' ? sum : sum + i), 0);

    const workflowFor = (who: string, faulty: FaultyStore) => {
      const clock = partyClock(this.clock, faulty.party);
      const work = (ms: number) => new Promise<void>((done) => clock.setTimer(ms, done));
      return defineWorkflow('sim-workflow', async (ctx, input: Input) => {
        let sum = 0;
        for (const [i, op] of input.ops.entries()) {
          if (op === 'sleep') {
            await ctx.sleep(this.int(0, 1500));
          } else if (op === 'tx') {
            sum += await ctx.transactionStep(`s${i}`, async (tx) => {
              await tx.execute('INSERT INTO sim_ledger (wf, idx) VALUES ($1, $2)', [ctx.workflowId, i]);
              return i;
            });
          } else {
            sum += await ctx.step(`s${i}`, async () => {
              const key = `${ctx.workflowId}:${i}`;
              effects.set(key, (effects.get(key) ?? 0) + 1);
              this.log(`run ${key} by ${who}`);
              if (i > 0) {
                const before = await real.query<{ status: string; kind: string }>(
                  'SELECT status, kind FROM garrison_workflow_steps WHERE run_id = $1 AND idx = $2',
                  [ctx.workflowId, i - 1],
                );
                const prior = before[0];
                if (prior === undefined || (prior.kind !== 'sleep' && prior.status !== 'completed'))
                  violations.push(`out of order: ${key} ran before step ${i - 1} was journaled`);
              }
              const roll = this.random();
              await work(roll < 0.5 ? 0 : roll < 0.9 ? this.int(0, 300) : this.int(0, 2500));
              return i;
            });
          }
        }
        return sum;
      });
    };

    const engines: Array<{ engine: WorkflowEngine; faulty: FaultyStore; life: number }> = [];
    const startEngine = (slot: number, life: number) => {
      const who = `e${slot}.${life}`;
      const faulty = new FaultyStore(real, this, who, { clock: this.clock, ms: () => this.int(0, 50) });
      const engine = createWorkflowEngine({
        store: faulty.store,
        clock: partyClock(this.clock, faulty.party),
        nodeId: who,
        leaseMs: 1000,
        recoverIntervalMs: 300,
        onError: (error) =>
          this.log(`error ${who}: ${error instanceof Error ? error.message : String(error)}`),
      });
      engine.register(workflowFor(who, faulty));
      engines[slot] = { engine, faulty, life };
      void engine.recover().catch((error: unknown) => this.log(`recover failed ${who}: ${String(error)}`));
    };
    const engineCount = this.int(1, 3);
    for (let slot = 0; slot < engineCount; slot++) startEngine(slot, 1);

    const starter = new FaultyStore(real, this, 'client');
    const client = createWorkflowEngine({
      store: starter.store,
      clock: this.clock,
      nodeId: 'client',
      autoExecute: false,
      onError: () => undefined,
    });
    const clientWorkflow = workflowFor('client', starter);
    client.register(clientWorkflow);
    const start = async (id: string) => {
      try {
        await client.start(clientWorkflow, runs.get(id)!, { workflowId: id });
        acked.add(id);
        this.log(`started ${id}`);
      } catch {
        this.log(`start refused ${id}`);
      }
    };

    let next = 0;
    for (let step = 0; step < 400; step++) {
      const roll = this.random();
      const unacked = [...runs.keys()].filter((id) => !acked.has(id));
      if (roll < 0.35 && (next < total || unacked.length > 0)) {
        const id = unacked[0] ?? `wf${next++}`;
        if (!runs.has(id)) runs.set(id, { ops: this.ops() });
        await start(id);
      } else if (roll < 0.5) {
        const slot = this.int(0, engines.length - 1);
        const e = engines[slot]!;
        if (e.faulty.party.dead) startEngine(slot, e.life + 1);
        else if (!e.faulty.party.paused) {
          if (roll < 0.46) {
            e.faulty.party.dead = true;
            crashes++;
            this.log(`crash e${slot}.${e.life}`);
          } else {
            e.faulty.party.pause();
            pauses++;
            this.log(`pause e${slot}.${e.life}`);
            this.clock.setTimer(this.int(1100, 2500), () => {
              this.log(`resume e${slot}.${e.life}`);
              e.faulty.party.resume();
            });
          }
        }
      }
      await this.clock.advance(this.int(1, 400));
      if (next >= total && acked.size === runs.size && step > 20) break;
    }

    // The faults end: refused starts are retried, crashed engines come back, everything must finish.
    this.faultsOn = false;
    this.log('faults end');
    for (const id of runs.keys()) if (!acked.has(id)) await start(id);
    for (const [slot, e] of engines.entries()) if (e.faulty.party.dead) startEngine(slot, e.life + 1);
    const open = async () => {
      const rows = await real.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status NOT IN ('completed', 'failed', 'cancelled')",
      );
      return Number(rows[0]?.n ?? 0);
    };
    for (let i = 0; i < 600 && (await open()) > 0; i++) await this.clock.advance(500);

    await this.check(real, runs, acked, effects, expected, violations);
    for (const e of engines) e.faulty.party.dead = true;
    return {
      seed: this.seed,
      violations,
      trace: this.trace,
      digest: this.digest(),
      figures: {
        tasks: acked.size,
        faults: this.faults,
        crashes,
        pauses,
        effects: [...effects.values()].reduce((a, b) => a + b, 0),
      },
    };
  }

  private async check(
    real: Store,
    runs: ReadonlyMap<string, Input>,
    acked: ReadonlySet<string>,
    effects: ReadonlyMap<string, number>,
    expected: (input: Input) => number,
    violations: string[],
  ): Promise<void> {
    const rows = await real.query<{
      id: string;
      status: string;
      output: string | null;
      error: string | null;
    }>('SELECT id, status, output, error FROM garrison_workflow_runs');
    const steps = await real.query<{ run_id: string; idx: number; name: string; status: string }>(
      'SELECT run_id, idx, name, status FROM garrison_workflow_steps ORDER BY run_id, idx',
    );
    const ledger = await real.query<{ wf: string; idx: number; n: number }>(
      'SELECT wf, idx, COUNT(*) AS n FROM sim_ledger GROUP BY wf, idx',
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const row of rows) if (!runs.has(row.id)) violations.push(`unexpected run: ${row.id}`);
    for (const id of acked) {
      const input = runs.get(id)!;
      const row = byId.get(id);
      if (row?.status !== 'completed') {
        violations.push(`lost: ${id} is ${row?.status ?? 'missing'} ${row?.error ?? ''}`);
        continue;
      }
      if (JSON.parse(row.output ?? 'null') !== expected(input))
        violations.push(`wrong output: ${id} gave ${row.output}, its steps give ${expected(input)}`);
      const journal = steps.filter((s) => s.run_id === id);
      if (journal.length !== input.ops.length)
        violations.push(`journal of ${id}: ${journal.length} entries for ${input.ops.length} steps`);
      for (const [i, op] of input.ops.entries()) {
        const entry = journal.find((s) => Number(s.idx) === i);
        if (entry?.status !== 'completed')
          violations.push(`step ${id}:${i} is ${entry?.status ?? 'not journaled'}`);
        const key = `${id}:${i}`;
        if (op === 'tx') {
          const n = Number(ledger.find((l) => l.wf === id && Number(l.idx) === i)?.n ?? 0);
          if (n !== 1) violations.push(`transaction step ${key} took effect ${n} times`);
        } else if (op === 'step' && (effects.get(key) ?? 0) === 0) violations.push(`never ran: ${key}`);
      }
    }
  }
}

/** Runs one seed of the workflow simulation. */
export function simulateWorkflows(seed: number): Promise<SimulationResult> {
  return new WorkflowSimulation(seed).run();
}
