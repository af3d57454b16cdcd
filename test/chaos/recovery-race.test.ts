/**
 * Two nodes recover the same workflows at once (PostgreSQL), after DBOS's recovery races: the node
 * running a batch of workflows is killed with SIGKILL; two fresh nodes, loaded and waiting, start at the
 * very moment the dead node's leases end, and both race to take its runs over. Then both are killed in
 * the middle of their work and two more race, and so on. In each race every step is run by exactly one
 * of the two nodes; in the end every workflow is complete, each step journaled once and its effect
 * once after deduplication by idempotency key.
 */
import type { ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/index.js';
import { postgresAdapter } from '../support/stores.js';
import { expectClean, History } from './history.js';
import {
  allReady,
  Children,
  eventually,
  exited,
  kill9,
  LedgerReader,
  removeBundles,
  scaled,
  Scratch,
  terminate,
} from './support.js';

const WORKFLOWS = scaled(200);
const STEPS = 5;
const RACES = scaled(3);
const LEASE_MS = 1000;

/** Every takeover of a run (a new fence), with the owner and lease it replaced: the store as witness. */
const CLAIM_WITNESS = [
  `CREATE TABLE chaos_run_claims (run_id TEXT NOT NULL, fence BIGINT NOT NULL, old_owner TEXT, old_lease BIGINT,
     new_owner TEXT, new_lease BIGINT)`,
  `CREATE FUNCTION chaos_run_claim() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
     INSERT INTO chaos_run_claims VALUES (NEW.id, NEW.fence, OLD.owner, OLD.lease_until, NEW.owner, NEW.lease_until);
     RETURN NULL; END $body$`,
  `CREATE TRIGGER chaos_run_claim AFTER UPDATE ON garrison_workflow_runs FOR EACH ROW
     WHEN (OLD.fence IS DISTINCT FROM NEW.fence) EXECUTE FUNCTION chaos_run_claim()`,
];

describe('two nodes recover the same workflows at once (PostgreSQL)', () => {
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
    `a node killed, then ${RACES} times two nodes start at the same moment its leases end: each step is run by exactly one of them`,
    { timeout: 300_000 },
    async () => {
      const url = postgresAdapter.freshUrl();
      const store = await openStore(url);
      stores.push(store);
      for (const sql of CLAIM_WITNESS) await store.execute(sql);
      const history = new History(`recovery race (postgres, ${RACES} races of two nodes)`);
      const chaosSteps = defineWorkflow('chaos-steps', async (_ctx, n: number) => n);
      const engine = createWorkflowEngine({ store, nodeId: 'starter', autoExecute: false });
      engine.register(chaosSteps);
      const ids = Array.from({ length: WORKFLOWS }, (_, n) => `race-${String(n).padStart(4, '0')}`);
      await Promise.all(
        ids.map(async (id, n) => {
          for (let s = 0; s < STEPS; s++) history.ask(`${id}:${s}`);
          await engine.start(chaosSteps, n, { workflowId: id });
          for (let s = 0; s < STEPS; s++) history.acknowledge(`${id}:${s}`);
        }),
      );
      await engine.stop();

      const path = join(scratch.folder(), 'ledger.jsonl');
      const ledger = new LedgerReader(path);
      const total = WORKFLOWS * STEPS;
      // Room for three quarters of the runs each: the two nodes of a race must share them.
      const node = (name: string, go?: string) =>
        children.start(
          'workflow-worker',
          [url, path, name, Math.ceil((WORKFLOWS * 3) / 4), LEASE_MS, 100, STEPS, 20],
          go === undefined ? {} : { GARRISON_CHAOS_GO: go },
        );
      /** Both nodes loaded and waiting (their start-up is no part of the race, however loaded the machine). */
      const waiting = (pair: readonly ChildProcess[]) =>
        eventually(
          () => pair.every((c) => ledger.all().some((l) => l.e === 'waiting' && l.pid === c.pid)),
          'both nodes of the race are loaded and waiting',
          120_000,
        );
      const journaled = async () => {
        const rows = await store.query<{ n: number | string }>(
          'SELECT COUNT(*) AS n FROM garrison_workflow_steps',
        );
        return Number(rows[0]?.n ?? 0);
      };
      /** When every lease of an unfinished run has ended, epoch ms. */
      const leasesEnd = async () => {
        const rows = await store.query<{ t: number | string | null }>(
          "SELECT MAX(lease_until) AS t FROM garrison_workflow_runs WHERE status NOT IN ('completed', 'failed', 'cancelled')",
        );
        return Number(rows[0]?.t ?? Date.now());
      };

      const first = await node('first');
      await eventually(
        async () => (await journaled()) >= total / 5,
        'the first node journals a fifth',
        60_000,
      );
      await kill9(first);
      history.fault('sigkill');

      const races: Array<readonly [ChildProcess, ChildProcess]> = [];
      for (let race = 1; race <= RACES; race++) {
        const go = join(scratch.folder(), `go-${race}`);
        const pair = [await node(`race-${race}-a`, go), await node(`race-${race}-b`, go)] as const;
        await waiting(pair);
        // Both start the moment the dead nodes' leases end (written whole, then renamed into place).
        writeFileSync(`${go}.tmp`, String(Math.max((await leasesEnd()) + 50, Date.now() + 100)));
        renameSync(`${go}.tmp`, go);
        races.push(pair);
        if (race === RACES) break;
        const target = Math.min(total - 1, (await journaled()) + total / 5);
        await eventually(async () => (await journaled()) >= target, `race ${race} journals a fifth`, 60_000);
        for (const c of pair) await kill9(c);
        history.fault('sigkill', 2);
      }
      const last = races.at(-1)!;
      await eventually(
        async () => {
          const rows = await store.query<{ n: number | string }>(
            "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE status = 'completed'",
          );
          return Number(rows[0]?.n ?? 0) === WORKFLOWS;
        },
        'every workflow completes',
        120_000,
      );
      await allReady(ledger, last);
      for (const c of last) expect(await terminate(c)).toBe(0);

      const journal = await store.query<{ run_id: string; idx: number }>(
        'SELECT run_id, idx FROM garrison_workflow_steps',
      );
      for (const row of journal) history.hold(`${row.run_id}:${Number(row.idx)}`);
      const lines = ledger.all();
      for (const line of lines)
        if (line.e === 'f') history.observe(`${String(line.w)}:${String(line.i)}`, line.k as string);
      // The store's record of every takeover: none took a run whose lease was still valid.
      const claims = await store.query<{
        run_id: string;
        old_owner: string | null;
        old_lease: number | string | null;
        new_owner: string;
        new_lease: number | string;
      }>('SELECT run_id, old_owner, old_lease, new_owner, new_lease FROM chaos_run_claims');
      history.watch('claim of a valid lease');
      for (const c of claims) {
        const claimNow = Number(c.new_lease) - LEASE_MS;
        if (c.old_owner !== null && c.old_owner !== c.new_owner && Number(c.old_lease) >= claimNow)
          history.violation(
            'claim of a valid lease',
            `${c.run_id}: ${c.old_owner} until ${c.old_lease}, ${c.new_owner} at ${claimNow}`,
          );
      }
      // Within each race: which of the two nodes started each step, and how often.
      history.watch('step run by both nodes of a race');
      history.watch('step run twice by one node');
      history.watch('run claimed by both nodes of a race');
      const split: string[] = [];
      let expiredTakeovers = 0;
      for (const [race, [a, b]] of races.entries()) {
        const prefix = `race-${race + 1}-`;
        // A node of the race starved past its lease (a loaded machine) may lose a run to the other one:
        // a takeover of an ended lease, which the check above proves. Such a run is legitimately run by
        // both; the race itself — both nodes starting at once — must never give a run to both.
        const handedOver = new Set(
          claims
            .filter((c) => c.new_owner.startsWith(prefix) && c.old_owner?.startsWith(prefix) === true)
            .filter((c) => c.old_owner !== c.new_owner)
            .map((c) => c.run_id),
        );
        expiredTakeovers += handedOver.size;
        const runners = new Map<string, number[]>();
        for (const line of lines) {
          if (line.e !== 's' || (line.pid !== a.pid && line.pid !== b.pid)) continue;
          const key = `${String(line.w)}:${String(line.i)}`;
          runners.set(key, [...(runners.get(key) ?? []), line.pid]);
        }
        for (const [key, pids] of runners) {
          const run = key.slice(0, key.lastIndexOf(':'));
          if (new Set(pids).size > 1) {
            if (!handedOver.has(run)) history.violation('step run by both nodes of a race', key);
          } else if (pids.length > 1) history.violation('step run twice by one node', key);
        }
        const owners = new Map<string, Set<string>>();
        for (const c of claims) {
          if (!c.new_owner.startsWith(prefix)) continue;
          owners.set(c.run_id, (owners.get(c.run_id) ?? new Set()).add(c.new_owner));
        }
        for (const [run, set] of owners)
          if (set.size > 1 && !handedOver.has(run))
            history.violation('run claimed by both nodes of a race', run);
        const claimedBy = (n: string) => claims.filter((c) => c.new_owner === `race-${race + 1}-${n}`).length;
        split.push(`${claimedBy('a')}/${claimedBy('b')}`);
      }
      history.figure('runs taken over by node a/b per race', split.join(' '));
      history.figure('runs handed between the nodes of a race after a lease ended', String(expiredTakeovers));
      const report = history.check({ evidence: 'both', duplicates: 'deduplicated' });
      expectClean(report);
      expect(report.items).toBe(total);
      // Every race had runs to take over, and its two nodes started together.
      for (const claimed of split) expect(claimed).not.toBe('0/0');
      for (const [a, b] of races) {
        const goAt = (c: ChildProcess) => lines.find((l) => l.e === 'go' && l.pid === c.pid)?.t ?? 0;
        expect(Math.abs(goAt(a) - goAt(b))).toBeLessThan(LEASE_MS);
      }
      for (const c of children.started()) await exited(c);
    },
  );
});
