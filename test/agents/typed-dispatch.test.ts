/**
 * Typed dispatch: `ctx.dispatch(agent.action(name), input, options)` takes its types from the action's
 * schemas, waits visibly (`no_capable_agent`) while no healthy agent has the capability and fails with
 * that code at its journaled timeout (also after a restart), hands the action the step's idempotency key
 * on every attempt, retries a plain Error but not a PermanentError, shows every attempt on the run's
 * timeline, and fails with structured errors — on both adapters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentQueueName, defineAction, defineAgent } from '../../src/agents/index.js';
import { createTaskDistributor } from '../../src/coordination/index.js';
import { PermanentError } from '../../src/errors.js';
import { createWorkflowEngine, defineWorkflow, type WorkflowEngine } from '../../src/work/index.js';
import { adapters } from '../support/stores.js';
import { eventually, openFixture, type Fixture } from './support.js';

/** Keys and attempts each run of `validate` saw, by document id. */
const seen = new Map<string, Array<{ key: string; attempt: number | undefined }>>();

const validate = defineAction({
  name: 'validate',
  input: z.object({
    doc: z.string(),
    failUntil: z.number().int().default(0),
    permanent: z.boolean().default(false),
  }),
  output: z.object({ ok: z.boolean(), pages: z.number().int() }),
  run: (ctx, { doc, failUntil, permanent }) => {
    const attempt = ctx.task?.attempt;
    seen.set(doc, [...(seen.get(doc) ?? []), { key: ctx.idempotencyKey, attempt }]);
    if (permanent)
      throw new PermanentError(`document ${doc} is not a PDF`, { code: 'not_a_pdf', details: { doc } });
    if ((attempt ?? 0) <= failUntil) throw new Error(`store of ${doc} unreachable (attempt ${attempt})`);
    return { ok: true, pages: doc.length };
  },
});

const docs = defineAgent({
  type: 'docs',
  capabilities: ['doc.validate'],
  state: z.object({}),
  initialState: {},
  actions: [validate, defineAction({ name: 'noop', input: z.object({}), output: z.null(), run: () => null })],
});

/** What a workflow saw of an error, as plain data. */
interface Caught {
  code: unknown;
  message: unknown;
  errorCode?: unknown;
  errorMessage?: unknown;
  errorDetails?: unknown;
}

const process = defineWorkflow(
  'doc.process',
  async (ctx, input: { doc: string; failUntil?: number; permanent?: boolean; maxAttempts?: number }) => {
    try {
      const result = await ctx.dispatch(
        docs.action('validate'),
        { doc: input.doc, failUntil: input.failUntil ?? 0, permanent: input.permanent ?? false },
        input.maxAttempts === undefined ? {} : { retry: { maxAttempts: input.maxAttempts } },
      );
      // The output type is the action's: `pages` is a number.
      const pages: number = result.pages;
      return { pages };
    } catch (e) {
      const err = e as { code: unknown; message: unknown; details?: { error?: Record<string, unknown> } };
      const caught: Caught = {
        code: err.code,
        message: err.message,
        errorCode: err.details?.error?.code,
        errorMessage: err.details?.error?.message,
        errorDetails: err.details?.error?.details,
      };
      return { caught };
    }
  },
);

const orphan = defineWorkflow('doc.orphan', async (ctx, input: { timeoutMs: number }) => {
  try {
    await ctx.dispatch(
      validate,
      { doc: 'x', failUntil: 0, permanent: false },
      {
        capability: 'doc.nobody',
        timeoutMs: input.timeoutMs,
      },
    );
    return { caught: undefined };
  } catch (e) {
    const err = e as { code: unknown; details?: unknown };
    return { caught: { code: err.code, details: err.details } };
  }
});

/** Compile-time checks: `npx tsc --noEmit -p .` fails if any of these compiles. */
export const typeChecks = defineWorkflow('type.checks', async (ctx) => {
  // @ts-expect-error docs has no action "validat"
  await ctx.dispatch(docs.action('validat'), {});
  // @ts-expect-error the input of validate needs a string `doc`
  await ctx.dispatch(docs.action('validate'), { doc: 42 });
  // Fields with defaults may be left out (the input type is the schema's input).
  await ctx.dispatch(docs.action('validate'), { doc: 'a.pdf' });
  const out = await ctx.dispatch(docs.action('noop'), {});
  // @ts-expect-error noop's output is null, not a string
  const text: string = out;
  return text;
});

/**
 * Moves the virtual clock on, a retry's backoff at a time, until `doc` has run `runs` times (the queue's
 * consumer may set its wake-up after any one advance).
 */
async function runsAfterBackoff(f: Fixture, doc: string, runs: number): Promise<void> {
  await eventually(async () => {
    if ((seen.get(doc)?.length ?? 0) >= runs) return true;
    await f.clock.advance(5_000);
    return false;
  }, `${doc} ran ${runs} times`);
}

describe.each(adapters)('typed dispatch on $name', (adapter) => {
  let f: Fixture | undefined;
  let engines: WorkflowEngine[] = [];
  afterEach(async () => {
    for (const e of engines) await e.stop();
    engines = [];
    await f?.close();
    f = undefined;
    seen.clear();
  });

  async function setUp(withAgent = true) {
    const fixture = await openFixture(adapter);
    f = fixture;
    await fixture.host.shutdown();
    const late: { engine?: WorkflowEngine } = {};
    const distributor = createTaskDistributor({
      store: fixture.store,
      registry: fixture.registry,
      queues: fixture.queues,
      clock: fixture.clock,
      queueOf: agentQueueName,
      agentQueuePrefix: agentQueueName(''),
      results: () => late.engine!,
    });
    const engine = (): WorkflowEngine => {
      const built = createWorkflowEngine({
        store: fixture.store,
        clock: fixture.clock,
        nodeId: 'node-a',
        dispatcher: distributor,
        recoverIntervalMs: 0,
      })
        .register(process)
        .register(orphan);
      late.engine = built;
      engines.push(built);
      return built;
    };
    const host = await fixture.reopen({ distributor });
    if (withAgent) await host.start(docs, { id: 'docs-1' });
    return { fixture, engine, distributor };
  }

  it('a typed dispatch returns the agent’s typed output; the action sees the step’s idempotency key', async () => {
    const { engine } = await setUp();
    const e = engine();
    const run = await e.start(process, { doc: 'abc' });
    expect(await run.result()).toEqual({ pages: 3 });
    expect(seen.get('abc')).toEqual([{ key: `${run.workflowId}:0`, attempt: 1 }]);
    const [step] = await e.steps(run.workflowId);
    expect(step).toMatchObject({ kind: 'dispatch', status: 'completed', attempts: 1 });
    expect(step?.attemptLog).toEqual([
      { attempt: 1, agentId: 'docs-1', at: expect.any(Number) as number, retried: false },
    ]);
  });

  it('a plain Error is retried with the same idempotency key; every attempt shows on the timeline', async () => {
    const { fixture, engine } = await setUp();
    const e = engine();
    const run = await e.start(process, { doc: 'flaky', failUntil: 2 });
    await eventually(async () => (seen.get('flaky')?.length ?? 0) === 1, 'the first attempt ran');
    await eventually(
      async () => (await e.steps(run.workflowId))[0]?.attemptLog?.length === 1,
      'the first attempt is on the timeline',
    );
    let step = (await e.steps(run.workflowId))[0];
    expect(step).toMatchObject({
      status: 'pending',
      attempts: 1,
      waiting: { reason: 'assigned', agentId: 'docs-1' },
    });
    expect(step?.attemptLog?.[0]).toMatchObject({
      attempt: 1,
      retried: true,
      error: {
        code: 'action_failed',
        details: { cause: { message: 'store of flaky unreachable (attempt 1)' } },
      },
    });
    await runsAfterBackoff(fixture, 'flaky', 3);
    expect(await run.result()).toEqual({ pages: 5 });
    const key = `${run.workflowId}:0`;
    expect(seen.get('flaky')).toEqual([
      { key, attempt: 1 },
      { key, attempt: 2 },
      { key, attempt: 3 },
    ]);
    step = (await e.steps(run.workflowId))[0];
    expect(step).toMatchObject({ status: 'completed', attempts: 3 });
    expect(step?.waiting).toBeUndefined();
    expect(step?.attemptLog?.map((a) => [a.attempt, a.retried, a.error?.code])).toEqual([
      [1, true, 'action_failed'],
      [2, true, 'action_failed'],
      [3, false, undefined],
    ]);
  });

  it('retry.maxAttempts bounds the attempts; the last error reaches the workflow as fields', async () => {
    const { fixture, engine } = await setUp();
    const e = engine();
    const run = await e.start(process, { doc: 'down', failUntil: 99, maxAttempts: 2 });
    await runsAfterBackoff(fixture, 'down', 2);
    const out = (await run.result()) as { caught: Caught };
    expect(seen.get('down')).toHaveLength(2);
    expect(out.caught).toMatchObject({
      code: 'dispatch_failed',
      errorCode: 'action_failed',
      errorDetails: {
        agentId: 'docs-1',
        action: 'validate',
        cause: { message: 'store of down unreachable (attempt 2)' },
      },
    });
    expect(String(out.caught.errorMessage)).not.toContain('{');
    const [step] = await e.steps(run.workflowId);
    expect(step).toMatchObject({ status: 'failed', attempts: 2 });
    expect(step?.attemptLog?.map((a) => a.retried)).toEqual([true, false]);
  });

  it('a PermanentError is not retried; its code and details reach the workflow', async () => {
    const { engine } = await setUp();
    const e = engine();
    const run = await e.start(process, { doc: 'scan.tiff', permanent: true });
    const out = (await run.result()) as { caught: Caught };
    expect(seen.get('scan.tiff')).toHaveLength(1);
    expect(out.caught).toMatchObject({
      code: 'dispatch_failed',
      errorCode: 'action_failed',
      errorDetails: {
        cause: { name: 'PermanentError', code: 'not_a_pdf', retryable: false, details: { doc: 'scan.tiff' } },
      },
    });
    expect(String(out.caught.errorMessage)).toBe(
      'action "validate" of agent docs-1 failed: document scan.tiff is not a PDF',
    );
  });

  it('with no capable agent the step waits as no_capable_agent and fails so at its timeout, across a restart', async () => {
    const { fixture, engine } = await setUp(false);
    const first = engine();
    const run = await first.start(orphan, { timeoutMs: 30_000 });
    await eventually(
      async () => (await first.steps(run.workflowId))[0]?.waiting?.reason === 'no_capable_agent',
      'the step is recorded as waiting for a capable agent',
    );
    const [step] = await first.steps(run.workflowId);
    expect(step).toMatchObject({
      status: 'pending',
      dueAt: expect.any(Number) as number,
      waiting: { reason: 'no_capable_agent', capability: 'doc.nobody' },
    });
    expect((await first.get(run.workflowId))?.status).toBe('waiting');
    const parked = () =>
      fixture.queues.listTasks({ queue: 'dispatch:doc.nobody', states: ['queued', 'running'] });
    expect(await parked()).toHaveLength(1);
    // The node stops; another engine takes the run over and the journaled deadline still holds.
    await first.stop();
    const second = engine();
    await second.recover();
    await fixture.clock.advance(30_000);
    const out = await second.result<{ caught: { code: unknown; details: unknown } }>(run.workflowId);
    expect(out.caught).toMatchObject({
      code: 'no_capable_agent',
      details: { capability: 'doc.nobody', index: 0 },
    });
    const [after] = await second.steps(run.workflowId);
    expect(after).toMatchObject({ status: 'failed', error: { code: 'no_capable_agent' } });
    expect(after?.waiting).toBeUndefined();
    // Failed at its deadline, the step is withdrawn from its parking queue: no agent can start it late.
    expect(await parked()).toEqual([]);
  });

  it('an untyped dispatch (deprecated) still works, and an action without a capability is refused', async () => {
    const { engine } = await setUp();
    const legacy = defineWorkflow('legacy', async (ctx) =>
      ctx.dispatch('doc.validate', 'validate', { doc: 'old' }),
    );
    const bare = defineWorkflow('bare', async (ctx) =>
      ctx.dispatch(validate, { doc: 'x', failUntil: 0, permanent: false }),
    );
    const e = engine().register(legacy).register(bare);
    expect(await (await e.start(legacy, {})).result()).toEqual({ ok: true, pages: 3 });
    const error = await (await e.start(bare, {})).result().catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'workflow_failed' });
    expect(JSON.stringify(error)).toContain('needs a capability');
  });
});
