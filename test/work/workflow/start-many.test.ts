import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, WorkflowErrorCode } from '../../../src/work/workflow/index.js';
import type { Store } from '../../../src/store/index.js';
import { adapters, itOnPostgres } from '../../support/stores.js';
import { Harnesses, rejectionOf, until } from './helpers.js';

const double = defineWorkflow(
  'double',
  async (ctx, input: { n: number }) => ctx.step('double', async () => input.n * 2),
  { inputSchema: z.object({ n: z.number().int() }) },
);

async function runCount(store: Store): Promise<number> {
  const rows = await store.query<{ n: number }>('SELECT COUNT(*) AS n FROM garrison_workflow_runs');
  return Number(rows[0]?.n ?? 0);
}

describe.each(adapters)('engine.startMany on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('starts every run of the batch and each completes with its own output', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const handles = await engine.startMany(
      Array.from({ length: 10 }, (_, i) => ({ workflow: double, input: { n: i }, workflowId: `d-${i}` })),
    );
    expect(handles.map((x) => [x.workflowId, x.created])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`d-${i}`, true]),
    );
    expect(await Promise.all(handles.map((x) => x.result()))).toEqual(
      Array.from({ length: 10 }, (_, i) => i * 2),
    );
    expect(await runCount(h.store)).toBe(10);
  });

  it('a bad input in item 7 of 10 is refused with a readable error and nothing is written', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const items = Array.from({ length: 10 }, (_, i) => ({
      workflow: double,
      input: i === 7 ? { n: 'seven' } : { n: i },
    }));
    const error = await rejectionOf(
      engine.startMany(items as Array<{ workflow: typeof double; input: { n: number } }>),
    );
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(/^item 7 of the batch: invalid input for workflow 'double': n: /);
    expect(error.details).toMatchObject({ item: 7, workflow: 'double' });
    expect(await runCount(h.store)).toBe(0);
  });

  it('an id of a run of another workflow fails the whole batch: none of it is written', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const other = defineWorkflow('other', async () => 'x');
    await (await engine.start(other, null, { workflowId: 'taken' })).result();
    const error = await rejectionOf(
      engine.startMany([
        { workflow: double, input: { n: 1 }, workflowId: 'fresh-1' },
        { workflow: double, input: { n: 2 }, workflowId: 'taken' },
        { workflow: double, input: { n: 3 }, workflowId: 'fresh-2' },
      ]),
    );
    expect(error.code).toBe(WorkflowErrorCode.conflict);
    expect(await runCount(h.store)).toBe(1);
  });

  it('is idempotent by id: a batch started again creates nothing new', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const items = [1, 2, 3].map((n) => ({ workflow: double, input: { n }, workflowId: `same-${n}` }));
    await Promise.all((await engine.startMany(items)).map((x) => x.result()));
    const again = await engine.startMany(items);
    expect(again.map((x) => x.created)).toEqual([false, false, false]);
    expect(await again[2]?.result()).toBe(6);
    expect(await runCount(h.store)).toBe(3);
  });

  it('refuses the same id twice in one batch, and a batch that is not an array', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const twice = await rejectionOf(
      engine.startMany([
        { workflow: double, input: { n: 1 }, workflowId: 'dup' },
        { workflow: double, input: { n: 2 }, workflowId: 'dup' },
      ]),
    );
    expect(twice.message).toBe('item 1 of the batch: workflow id dup appears twice in the batch');
    const notArray = await rejectionOf(engine.startMany('nope' as unknown as []));
    expect(notArray.code).toBe('invalid_input');
    const unknown = await rejectionOf(engine.startMany([{ workflow: 'nobody', input: null }]));
    expect(unknown.code).toBe(WorkflowErrorCode.unknown);
    expect(unknown.message).toMatch(/^item 0 of the batch: no workflow named 'nobody'/);
    expect(await runCount(h.store)).toBe(0);
  });

  it('without autoExecute the runs are pending and announced one by one', async () => {
    const h = await harnesses.create(adapter);
    const announced: string[] = [];
    const engine = h.engine({ autoExecute: false, onRunPending: (id) => announced.push(id) });
    const handles = await engine.startMany([4, 5].map((n) => ({ workflow: double, input: { n } })));
    expect(announced).toEqual(handles.map((x) => x.workflowId));
    const runs = await Promise.all(handles.map((x) => x.get()));
    expect(runs.map((r) => [r?.status, r?.owner, r?.input])).toEqual([
      ['pending', undefined, { n: 4 }],
      ['pending', undefined, { n: 5 }],
    ]);
  });

  itOnPostgres(adapter)(
    'an engine that executes nothing (a command-line process) announces its pending runs to other processes',
    async () => {
      const h = await harnesses.create(adapter);
      const other = await h.openAgain();
      let heard = 0;
      await other.listen('garrison_workflows_pending', () => heard++);
      const engine = h.engine({ autoExecute: false });
      await engine.start(double, { n: 1 });
      await until(() => heard === 1, 'the start is announced');
      await engine.startMany([2, 3].map((n) => ({ workflow: double, input: { n } })));
      await until(() => heard === 2, 'the batch is announced');
    },
  );
});
