import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/runtime/clock.js';
import {
  createLocalDispatcher,
  defineWorkflow,
  type DispatchRequest,
} from '../../../src/work/workflow/index.js';
import { adapters } from '../../support/stores.js';
import { deferred, Harnesses, until } from './helpers.js';

const LEASE = 10_000;

describe.each(adapters)('ownership, recovery and fencing on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  /**
   * Node A starts a run whose first step hangs (A is frozen: its clock stands still, so it never renews
   * its lease). Node B's clock runs on.
   */
  async function frozenOwner() {
    const h = await harnesses.create(adapter);
    const halted: Array<[string, string]> = [];
    const a = h.engine({
      nodeId: 'node-a',
      leaseMs: LEASE,
      onRunHalted: (id, reason) => halted.push([id, reason]),
    });
    const bClock = new VirtualClock(h.clock.now());
    const b = h.engine({ nodeId: 'node-b', leaseMs: LEASE, clock: bClock });
    return { h, a, b, bClock, halted };
  }

  it('a run whose owner stopped renewing its lease is taken over and finished by another node', async () => {
    const { a, b, bClock } = await frozenOwner();
    const hang = deferred();
    const entered = deferred();
    let calls = 0;
    const wf = defineWorkflow('takeover', async (ctx) => {
      const first = await ctx.step('first', async () => `first by ${ctx.workflowId}`);
      const second = await ctx.step('second', async () => {
        calls++;
        if (calls === 1) {
          entered.resolve();
          await hang.promise;
        }
        return `second, call ${calls}`;
      });
      return [first, second];
    });
    b.register(wf);
    const { workflowId } = await a.start(wf, null, { workflowId: 'job-1' });
    await entered.promise;

    expect(await b.recover()).toBe(0); // the lease still holds
    await bClock.advance(LEASE + 1);
    expect(await b.recover()).toBe(1);
    expect(await b.result(workflowId)).toEqual(['first by job-1', 'second, call 2']);
    const run = await b.get(workflowId);
    expect(run).toMatchObject({ status: 'completed', owner: 'node-b' });
    hang.resolve();
  });

  it('the late write of a node that lost its lease is rejected: exactly one result per step', async () => {
    const { h, a, b, bClock, halted } = await frozenOwner();
    const hang = deferred();
    const entered = deferred();
    let calls = 0;
    const wf = defineWorkflow('fenced', async (ctx) =>
      ctx.step('work', async () => {
        calls++;
        const mine = calls;
        if (mine === 1) {
          entered.resolve();
          await hang.promise;
        }
        return `result ${mine}`;
      }),
    );
    b.register(wf);
    const { workflowId } = await a.start(wf, null);
    await entered.promise;
    await bClock.advance(LEASE + 1);
    await b.recover();
    expect(await b.result(workflowId)).toBe('result 2');

    hang.resolve(); // node A wakes up and tries to journal its stale result
    await until(() => halted.length > 0, 'node A learns it lost the run');
    expect(halted).toEqual([[workflowId, 'lease_lost']]);
    const steps = await b.steps(workflowId);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ index: 0, status: 'completed', output: 'result 2' });
    expect(await h.store.query('SELECT run_id FROM garrison_workflow_steps')).toHaveLength(1);
    expect((await b.get(workflowId))?.owner).toBe('node-b');
  });

  it('a transaction step of a node that lost its lease is rolled back with its journal entry', async () => {
    const { h, a, b, bClock, halted } = await frozenOwner();
    await h.store.execute('CREATE TABLE ledger (entry TEXT PRIMARY KEY, by_node TEXT NOT NULL)');
    const hang = deferred();
    const entered = deferred();
    // A enters its first step and hangs there; its transaction step comes after the takeover.
    const gate = defineWorkflow('gated', async (ctx) => {
      await ctx.step('gate', async () => {
        if (ctx.workflowId === 'g' && !gateOpened) {
          entered.resolve();
          await hang.promise;
        }
      });
      return ctx.transactionStep('record', async (tx) => {
        // A primary key would hide a second insert; the node name shows whose insert survived.
        await tx.execute('INSERT INTO ledger (entry, by_node) VALUES ($1, $2)', [
          `${node}-${Math.random()}`,
          node,
        ]);
        return 'recorded';
      });
    });
    let gateOpened = false;
    let node = 'node-a';
    b.register(gate);
    await a.start(gate, null, { workflowId: 'g' });
    await entered.promise;
    await bClock.advance(LEASE + 1);
    gateOpened = true;
    node = 'node-b';
    await b.recover();
    expect(await b.result('g')).toBe('recorded');
    node = 'node-a';
    hang.resolve(); // A goes on to its transaction step: its journal write is fenced, its insert undone
    await until(() => halted.length > 0, 'node A learns it lost the run');
    expect(halted).toEqual([['g', 'lease_lost']]);
    const rows = await h.store.query<{ by_node: string }>('SELECT by_node FROM ledger');
    expect(rows.map((r) => r.by_node)).toEqual(['node-b']);
    expect((await b.steps('g')).map((s) => [s.index, s.name])).toEqual([
      [0, 'gate'],
      [1, 'record'],
    ]);
  });

  it('recover() resumes the unfinished runs this node owns after a restart', async () => {
    const h = await harnesses.create(adapter);
    const wf = defineWorkflow('long', async (ctx, n: number) => {
      await ctx.sleep(1000 * n);
      return n;
    });
    const first = h.engine();
    const ids: string[] = [];
    for (let n = 1; n <= 3; n++) ids.push((await first.start(wf, n)).workflowId);
    await until(async () => (await first.list({ status: 'sleeping' })).length === 3, 'all sleep');
    await first.stop();
    const second = h.engine();
    second.register(wf);
    expect(await second.recover()).toBe(3);
    expect(await second.recover()).toBe(0); // already running here
    await h.clock.advance(3000);
    expect(await Promise.all(ids.map((id) => second.result(id)))).toEqual([1, 2, 3]);
  });

  it('with autoExecute off, start only makes a run durable and executeRun drives it to its end', async () => {
    const h = await harnesses.create(adapter);
    const pending: string[] = [];
    const engine = h.engine({ autoExecute: false, onRunPending: (id) => pending.push(id) });
    const child = defineWorkflow('part', async (ctx, n: number) => ctx.step('double', async () => n * 2));
    const parent = defineWorkflow('whole', async (ctx, n: number) => ctx.child(child, n));
    engine.register(child, parent);
    const handle = await engine.start(parent, 21, { workflowId: 'whole-1' });
    expect(await handle.get()).toMatchObject({ status: 'pending', owner: undefined });
    expect(pending).toEqual(['whole-1']);
    expect(await engine.claimable()).toEqual(['whole-1']);

    const parentRun = engine.executeRun('whole-1');
    await until(() => pending.length === 2, 'the child is created pending');
    expect(pending[1]).toBe('whole-1:0');
    // Waiting for its child, the parent is parked: its execution here ends, holding nothing.
    expect(await parentRun).toMatchObject({ status: 'waiting', owner: undefined });
    expect(engine.activity()).toEqual({ executing: 0, parked: 1 });
    expect(await engine.executeRun('whole-1:0')).toMatchObject({ status: 'completed', output: 42 });
    // The child's result wakes it: rebuilt from its journal, it finishes here.
    expect(await handle.result()).toBe(42);
    expect(await handle.get()).toMatchObject({ status: 'completed', output: 42, owner: 'node-a' });
  });

  it('the engine renews the leases of its runs while they run', async () => {
    const h = await harnesses.create(adapter);
    // Kept in memory while it sleeps (a parked run has no owner, so no lease to renew).
    const engine = h.engine({ leaseMs: LEASE, parkWaits: false });
    const wf = defineWorkflow('sleeper', async (ctx) => ctx.sleep(10 * LEASE));
    const { workflowId } = await engine.start(wf, null);
    await until(async () => (await engine.get(workflowId))?.status === 'sleeping', 'the run sleeps');
    // Five leases long, a third of a lease at a time (each renewal is a real write).
    for (let i = 0; i < 15; i++) {
      await h.clock.advance(Math.ceil(LEASE / 3));
      // Renewed at the tick just passed: good for at least two more thirds of a lease.
      await until(
        async () => ((await engine.get(workflowId))?.leaseUntil ?? 0) > h.clock.now() + LEASE / 2,
        'the lease is renewed',
      );
    }
    expect((await engine.get(workflowId))?.status).toBe('sleeping');
  });

  it('a dispatched step is handed off durably and its result is journaled by completeDispatched', async () => {
    const h = await harnesses.create(adapter);
    const requests: DispatchRequest[] = [];
    const recording = {
      async dispatch(request: DispatchRequest) {
        requests.push(request);
      },
    };
    const wf = defineWorkflow('review', async (ctx, doc: string) => {
      const verdict = await ctx.dispatch<{ ok: boolean }>('reviewer', 'review', { doc });
      return verdict.ok ? 'accepted' : 'rejected';
    });
    const first = h.engine({ dispatcher: recording });
    const { workflowId } = await first.start(wf, 'spec.md');
    await until(() => requests.length === 1, 'the step is handed off');
    expect(requests[0]).toMatchObject({
      workflowId,
      stepIndex: 0,
      capability: 'reviewer',
      action: 'review',
      input: { doc: 'spec.md' },
      idempotencyKey: `${workflowId}:0`,
    });
    expect((await first.get(workflowId))?.status).toBe('waiting');
    await first.stop();

    // After a restart the request is handed off again (at least once), with the same idempotency key.
    const second = h.engine({ dispatcher: recording });
    second.register(wf);
    await second.recover();
    await until(() => requests.length === 2, 'the step is handed off again');
    expect(requests[1]?.idempotencyKey).toBe(requests[0]?.idempotencyKey);
    expect(await second.completeDispatched(workflowId, 0, { ok: true })).toBe(true);
    expect(await second.completeDispatched(workflowId, 0, { ok: false })).toBe(false);
    expect(await second.result(workflowId)).toBe('accepted');
    expect((await second.steps(workflowId))[0]).toMatchObject({
      kind: 'dispatch',
      status: 'completed',
      output: { ok: true },
    });
  });

  it('the in-process dispatcher runs handlers and journals results and failures', async () => {
    const h = await harnesses.create(adapter);
    const dispatcher = createLocalDispatcher({
      math: {
        double: async (input) => (input as number) * 2,
        fail: async () => {
          throw new Error('cannot');
        },
      },
    });
    const engine = h.engine({ dispatcher });
    const wf = defineWorkflow('dispatching', async (ctx) => {
      const doubled = await ctx.dispatch<number>('math', 'double', 21);
      try {
        await ctx.dispatch('math', 'fail');
      } catch (error) {
        return { doubled, failure: (error as { code?: string }).code };
      }
      return { doubled };
    });
    expect(await (await engine.start(wf, null)).result()).toEqual({
      doubled: 42,
      failure: 'dispatch_failed',
    });
  });
});
