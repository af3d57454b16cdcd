/**
 * Overload: a node with a small heap (`--max-old-space-size=256`), its HTTP API and a queue worker doing
 * a small fixed amount of work per task. The test measures the rate the node sustains (tasks accepted
 * and completed per second), then sends ten times that rate of `POST /v1/tasks` for a fixed time, each
 * with its own idempotency key, whatever the answers (open loop). Every answer is recorded: accepted
 * (201 and a task id), refused (429 or 503, with a `Retry-After` of whole seconds) or failed at the
 * connection (the store then says whether the task exists). Then the load stops, the worker drains,
 * and a fresh batch at the sustainable rate must all be accepted — at once, or after the Retry-After a
 * refusal gave (a client's retry: the machine may be busier than when the rate was measured) — and complete.
 *
 * Checked: every accepted task ran and completed exactly once (lost 0, duplicated 0), nothing refused
 * was written, the API did shed load (refusals > 0), the node never crashed (exit code 0 after SIGTERM,
 * no out-of-memory on stderr), its heap stayed below its admission limit and its live heap (after a
 * full collection) did not grow from the first third of the overload to its end, and throughput came
 * back. No assertion is about speed: the rates only size the load.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { postgresAdapter } from '../support/stores.js';
import { expectClean, History } from './history.js';
import { Enqueuer, NodeChild, openLoop, validRetryAfter, type Outcome } from './overload-support.js';
import { eventually, LedgerReader, removeBundles, scale, Scratch, sleep } from './support.js';

const QUEUE = 'overload';
/** The worker: this many tasks at once, each sleeping this long (about 100 tasks/s at most). */
const CONCURRENCY = 2;
const WORK_MS = 20;
/** The node's bound on waiting tasks (`tasks.maxQueued`): about two seconds of the worker's work. */
const MAX_QUEUED = 200;
/** Waiting tasks the warm-up keeps, so the worker is never idle while its rate is measured. */
const WARMUP_BACKLOG = 50;
const WARMUP_MS = 3000;
const FACTOR = 10;
const OVERLOAD_MS = Math.round(12_000 * scale);
const RECOVERY_MS = 2000;
/** A recovery request refused this many times (each after its Retry-After) counts as refused. */
const RECOVERY_TRIES = 5;
const MiB = 1024 * 1024;
/**
 * The live heap (after a full collection) may grow this much from the first third of the overload to
 * its end: a quarter, and 4 MiB for what V8 keeps as a program runs (compiled code, type feedback).
 * Raw `heapUsed` peaks are not compared: they hold garbage not yet collected and move with the
 * collector's timing. This catches a leak of about 2 KB per request at CI size, about 200 bytes at
 * `GARRISON_CHAOS_SCALE=10`.
 */
const PLATEAU_RATIO = 1.25;
const PLATEAU_SLACK = 4 * MiB;

type Phase = 'warmup' | 'overload' | 'recovery';
const AMBIGUOUS_CODES = new Set(['store_unreachable']);

interface Tally {
  sent: number;
  accepted: number;
  refused: number;
  connection: number;
  other: number;
  codes: Record<string, number>;
}
const tally = (): Tally => ({ sent: 0, accepted: 0, refused: 0, connection: 0, other: 0, codes: {} });

const cases = [
  { name: 'sqlite', url: (folder: string) => `sqlite:${join(folder, 'garrison.db')}` },
  { name: 'postgres', url: () => postgresAdapter.freshUrl() },
] as const;

describe.each(cases)('overload on $name', ({ name, url: urlOf }) => {
  const scratch = new Scratch();
  const stores: Store[] = [];
  let child: NodeChild | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
    for (const s of stores.splice(0)) await s.close();
    scratch.cleanup();
  });
  afterAll(removeBundles);

  it(
    `${FACTOR}× the sustainable enqueue rate for ${OVERLOAD_MS / 1000} s with a 256 MB heap: refused with Retry-After, lost 0, duplicated 0, live heap flat, no crash, throughput back after`,
    { timeout: 120_000 + 2 * OVERLOAD_MS },
    async () => {
      const folder = scratch.folder();
      const url = urlOf(folder);
      const ledgerPath = join(folder, 'effects.jsonl');
      const node = (child = await NodeChild.start([
        url,
        ledgerPath,
        QUEUE,
        WORK_MS,
        CONCURRENCY,
        MAX_QUEUED,
      ]));
      const store = await openStore(url);
      stores.push(store);
      const ledger = new LedgerReader(ledgerPath);
      const enqueuer = new Enqueuer(node.apiUrl, QUEUE);
      const history = new History(`overload (${name}, ${FACTOR}× for ${OVERLOAD_MS / 1000} s, 256 MB heap)`);
      history.watch('refusal without a valid Retry-After');
      history.watch('unexpected answer');
      history.watch('refused, yet written');
      const tallies: Record<Phase, Tally> = { warmup: tally(), overload: tally(), recovery: tally() };
      const outcomes = new Map<string, Outcome>();
      const pending = new Set<Promise<void>>();
      let retriedAfterRefusal = 0;
      /**
       * One enqueue; in the recovery phase a refusal is retried after the Retry-After it came with, as a
       * client does (the machine may have grown busier since the warm-up measured what is sustainable).
       */
      const send = (phase: Phase, key: string) => {
        history.ask(key);
        tallies[phase].sent++;
        const attempt = async (tries: number): Promise<Outcome> => {
          const o = await enqueuer.send(key);
          if (o.kind === 'refused' && !validRetryAfter(o.retryAfter))
            history.violation('refusal without a valid Retry-After', `${key}: ${o.status} ${o.code}`);
          if (phase !== 'recovery' || o.kind !== 'refused' || tries >= RECOVERY_TRIES) return o;
          retriedAfterRefusal++;
          await sleep(Number(o.retryAfter) * 1000);
          return attempt(tries + 1);
        };
        const p = attempt(1).then((o) => {
          outcomes.set(key, o);
          const t = tallies[phase];
          t[o.kind]++;
          const code = o.kind === 'refused' ? `${o.status} ${o.code}` : o.kind;
          t.codes[code] = (t.codes[code] ?? 0) + 1;
          if (o.kind === 'accepted') history.acknowledge(key);
          if (o.kind === 'other') history.violation('unexpected answer', `${key}: ${o.status} ${o.body}`);
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      };
      const settled = () => Promise.all([...pending]);
      const waiting = async () => {
        const rows = await store.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM garrison_tasks WHERE queue = $1 AND state IN ('queued', 'running')",
          [QUEUE],
        );
        return Number(rows[0]?.n ?? 0);
      };

      // Warm-up: keep a backlog so the worker never idles, and measure the completions per second.
      let next = 0;
      const warmupStart = Date.now();
      let mark: { t: number; done: number } | undefined;
      while (Date.now() - warmupStart < WARMUP_MS) {
        const done = ledger.count('d');
        const backlog = tallies.warmup.accepted - done + enqueuer.inFlight;
        for (let n = backlog; n < WARMUP_BACKLOG; n++) send('warmup', `w-${next++}`);
        if (mark === undefined && Date.now() - warmupStart >= 1000) mark = { t: Date.now(), done };
        await sleep(10);
      }
      const sustainable = (ledger.count('d') - mark!.done) / ((Date.now() - mark!.t) / 1000);
      expect(sustainable).toBeGreaterThan(0);
      await settled();
      const live0 = await node.collect();

      // Overload: ten times the sustainable rate, open loop; the live heap at each third.
      const rate = FACTOR * sustainable;
      const overloadStart = Date.now();
      const thirds = (async () => {
        const live: number[] = [];
        for (let third = 1; third <= 2; third++) {
          await sleep(overloadStart + (third * OVERLOAD_MS) / 3 - Date.now());
          live.push((await node.collect()).heapUsed);
        }
        return live;
      })();
      const load = await openLoop(
        rate,
        OVERLOAD_MS,
        () => enqueuer.inFlight,
        (i) => send('overload', `o-${i}`),
      );
      const [live1, live2] = (await thirds) as [number, number];
      await settled();
      const overloadEnd = Date.now();
      const live3 = (await node.collect()).heapUsed;
      expect(node.alive()).toBe(true);

      // Drain, then a fresh batch at the sustainable rate.
      await eventually(async () => (await waiting()) === 0, 'the worker drains the queue', 120_000);
      const drainMs = Date.now() - overloadEnd;
      const recoveryStart = Date.now();
      await openLoop(
        sustainable,
        RECOVERY_MS,
        () => enqueuer.inFlight,
        (i) => send('recovery', `r-${i}`),
      );
      await settled();
      await eventually(async () => (await waiting()) === 0, 'the recovery batch completes', 120_000);
      const recoveryRate = tallies.recovery.accepted / ((Date.now() - recoveryStart) / 1000);
      enqueuer.close();
      expect(node.alive()).toBe(true);
      const exit = await node.terminate();

      // What the store holds and what the worker did.
      const rows = await store.query<{ idempotency_key: string; state: string }>(
        'SELECT idempotency_key, state FROM garrison_tasks WHERE queue = $1',
        [QUEUE],
      );
      for (const row of rows) {
        if (row.state === 'completed') history.hold(row.idempotency_key);
        else history.violation('task not completed', `${row.idempotency_key}: ${row.state}`);
        const o = outcomes.get(row.idempotency_key);
        if (o?.kind === 'refused' && !AMBIGUOUS_CODES.has(o.code))
          history.violation('refused, yet written', `${row.idempotency_key}: ${o.status} ${o.code}`);
      }
      history.watch('task not completed');
      history.watch('completion acknowledged twice');
      history.watch('lease lost');
      const acks = new Map<string, number>();
      for (const line of ledger.all()) {
        const key = line.key as string;
        if (line.e === 'x') history.observe(key);
        else if (line.e === 'd') acks.set(key, (acks.get(key) ?? 0) + 1);
        else if (line.e === 'l') history.violation('lease lost', key);
      }
      for (const [key, n] of acks) if (n > 1) history.violation('completion acknowledged twice', key);
      const present = new Set(rows.map((r) => r.idempotency_key));
      const connection = [...outcomes].filter(([, o]) => o.kind === 'connection').map(([k]) => k);

      const o = tallies.overload;
      const heapMax = Math.max(...node.samples.map((s) => s.heapUsed));
      const rssMax = Math.max(...node.samples.map((s) => s.rss));
      const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MB`;
      history.figure('sustainable', `${sustainable.toFixed(0)}/s`);
      history.figure('overload target', `${rate.toFixed(0)}/s`);
      history.figure('overload sent', `${o.sent} (${((o.sent / load.ms) * 1000).toFixed(0)}/s)`);
      history.figure('skipped at the client limit', load.skipped);
      history.figure('accepted', o.accepted);
      history.figure('refused', `${o.refused} (${JSON.stringify(o.codes)})`);
      history.figure(
        'connection errors',
        `${connection.length} (in the store ${connection.filter((k) => present.has(k)).length})`,
      );
      const third = OVERLOAD_MS / 3;
      const peak = (from: number, to: number) =>
        Math.max(0, ...node.between(overloadStart + from, overloadStart + to).map((s) => s.heapUsed));
      history.figure('heap max', mb(heapMax));
      history.figure(
        'heap max first/last third',
        `${mb(peak(0, third))}/${mb(peak(2 * third, OVERLOAD_MS))}`,
      );
      history.figure('live heap', [live0.heapUsed, live1, live2, live3].map(mb).join(' → '));
      history.figure('rss max', mb(rssMax));
      history.figure('drain', `${(drainMs / 1000).toFixed(1)} s`);
      history.figure('recovery', `${tallies.recovery.accepted}/${tallies.recovery.sent} accepted`);
      history.figure('recovery requests retried after a refusal', retriedAfterRefusal);
      history.figure('recovery rate', `${recoveryRate.toFixed(0)}/s`);
      const report = history.check({ evidence: 'both', duplicates: 'forbidden' });
      expectClean(report);

      // The node lived through it: stopped by SIGTERM with 0, never out of memory.
      expect(exit).toEqual({ code: 0, signal: null });
      expect(node.stderr).not.toMatch(/heap out of memory|FATAL ERROR|Allocation failed/i);
      // It shed load, and still accepted some.
      expect(o.refused).toBeGreaterThan(0);
      expect(o.accepted).toBeGreaterThan(0);
      // Memory plateaued: below the node's own admission line, the live heap flat.
      expect(heapMax).toBeLessThan(node.heapAdmissionLimit);
      expect(live3).toBeLessThanOrEqual(live1 * PLATEAU_RATIO + PLATEAU_SLACK);
      // Throughput came back: the fresh batch was all accepted, at once or after the Retry-After it was
      // given (and, above, all completed once).
      expect(tallies.recovery).toMatchObject({ refused: 0, connection: 0, other: 0 });
      expect(tallies.recovery.accepted).toBe(tallies.recovery.sent);
      expect(tallies.recovery.sent).toBeGreaterThan(0);
    },
  );
});
