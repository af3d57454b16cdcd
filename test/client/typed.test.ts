/**
 * The client's own checks, before anything is written: inputs typed from the workflow definition at
 * compile time (the `@ts-expect-error` lines fail `tsc` if the type check ever goes away), the schema at
 * run time, and the arguments of every call; results with a timeout and an abort signal; pages of runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type GarrisonClient } from '../../src/client/index.js';
import type { Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { approval, sum } from './fixtures/workflows.js';

describe.each(adapters)('the client on $name', (adapter) => {
  let store: Store | undefined;
  let client: GarrisonClient | undefined;
  afterEach(async () => {
    await client?.close();
    await store?.close();
    client = store = undefined;
  });

  async function open(): Promise<GarrisonClient> {
    store = await adapter.open();
    client = await createClient({ store });
    return client;
  }

  it('checks a definition’s input against its type and its schema; a refused start writes nothing', async () => {
    const c = await open();
    // @ts-expect-error — `doc` is a string in the workflow's input type
    const wrongType = await c.start(approval, { doc: 42 }).catch((e: unknown) => e);
    expect(wrongType).toMatchObject({ code: 'invalid_input' });
    expect((wrongType as Error).message).toMatch(/^invalid input for workflow 'doc-approval': doc: /);
    const empty = await c.start(approval, { doc: '' }).catch((e: unknown) => e);
    expect(empty).toMatchObject({ code: 'invalid_input', details: { workflow: 'doc-approval' } });
    // @ts-expect-error — a batch item's input is typed too
    const batch = await c.startMany([{ workflow: sum, input: { values: ['1'] } }]).catch((e: unknown) => e);
    expect((batch as Error).message).toMatch(/^item 0 of the batch: invalid input for workflow 'sum'/);
    expect((await c.list()).runs).toEqual([]);
  });

  it('starts by name with any input (the executing node checks it), and is idempotent by id', async () => {
    const c = await open();
    const first = await c.start('doc-approval', { anything: true }, { workflowId: 'by-name' });
    expect(first).toMatchObject({ workflowId: 'by-name', created: true });
    expect(await first.get()).toMatchObject({
      status: 'pending',
      name: 'doc-approval',
      input: { anything: true },
    });
    const again = await c.start('doc-approval', null, { workflowId: 'by-name' });
    expect(again.created).toBe(false);
    const other = await c.start(sum, { values: [] }, { workflowId: 'by-name' }).catch((e: unknown) => e);
    expect(other).toMatchObject({ code: 'workflow_conflict' });
    const badName = await c.start('has space', null).catch((e: unknown) => e);
    expect(badName).toMatchObject({ code: 'invalid_input' });
    const badOptions = await c.start(sum, { values: [] }, { workflowId: '' }).catch((e: unknown) => e);
    expect(badOptions).toMatchObject({ code: 'invalid_input' });
    expect((await c.list()).runs.map((r) => r.id)).toEqual(['by-name']);
  });

  it('pages through runs newest first', async () => {
    const c = await open();
    await c.startMany(
      [1, 2, 3, 4, 5].map((n) => ({ workflow: sum, input: { values: [n] }, workflowId: `p${n}` })),
    );
    const first = await c.list({ limit: 2 });
    expect(first.runs).toHaveLength(2);
    expect(first.nextOffset).toBe(2);
    const second = await c.list({ limit: 2, offset: first.nextOffset });
    const third = await c.list({ limit: 2, offset: second.nextOffset });
    expect(third.nextOffset).toBeUndefined();
    const ids = [...first.runs, ...second.runs, ...third.runs].map((r) => r.id);
    expect(new Set(ids)).toEqual(new Set(['p1', 'p2', 'p3', 'p4', 'p5']));
    expect((await c.list({ name: 'nothing' })).runs).toEqual([]);
    await expect(c.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('ends a wait on a timeout or an abort (the run goes on), and refuses unknown and finished runs', async () => {
    const c = await open();
    const h = await c.start(sum, { values: [1] });
    await expect(h.result({ timeoutMs: 10 })).rejects.toMatchObject({ code: 'workflow_timeout' });
    const abort = new AbortController();
    const waiting = h.result({ signal: abort.signal });
    abort.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await expect(c.result('nobody')).rejects.toMatchObject({ code: 'workflow_not_found' });
    await expect(c.signal('nobody', 'approve')).rejects.toMatchObject({ code: 'workflow_not_found' });
    await expect(c.signal(h.workflowId, '')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(c.resume(h.workflowId)).rejects.toMatchObject({ code: 'workflow_invalid_state' });
    expect(await c.cancel(h.workflowId)).toMatchObject({ control: 'cancel' });
    expect((await c.get(h.workflowId))?.status).toBe('pending');
  });

  it('refuses bad options and use after close', async () => {
    await expect(createClient({ store: '' })).rejects.toMatchObject({ code: 'invalid_input' });
    const c = await open();
    await c.close();
    await expect(c.start(sum, { values: [] })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(c.signal('x', 'y')).rejects.toThrow('the client is closed');
  });
});
