/**
 * Changing a workflow's code under unfinished runs: `ctx.patched` sends runs that passed a point on the
 * old code down the old path and every other run down the new one, journaled so that replays agree;
 * `ctx.deprecatePatch` retires the call; a replay that meets a removed step is still `non_determinism`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defineWorkflow, WorkflowErrorCode } from '../../../src/work/workflow/index.js';
import { adapters } from '../../support/stores.js';
import { Harnesses, rejectionOf, until } from './helpers.js';

const HOUR = 3_600_000;

/** v1 of a document flow: draft, a night's wait, publish. */
function version1(ran: string[]) {
  return defineWorkflow('document', async (ctx, doc: string) => {
    await ctx.step('draft', async () => void ran.push(`draft ${doc}`));
    await ctx.sleep(8 * HOUR);
    await ctx.step('publish', async () => void ran.push(`publish ${doc}`));
    return 'v1 path';
  });
}

/** v2 adds a review before the wait, and a notice after it, each behind a patch. */
function version2(ran: string[]) {
  return defineWorkflow('document', async (ctx, doc: string) => {
    await ctx.step('draft', async () => void ran.push(`draft ${doc}`));
    const reviewed = ctx.patched('review-before-wait');
    if (reviewed) await ctx.step('review', async () => void ran.push(`review ${doc}`));
    await ctx.sleep(8 * HOUR);
    if (ctx.patched('notice-after-wait'))
      await ctx.step('notice', async () => void ran.push(`notice ${doc}`));
    await ctx.step('publish', async () => void ran.push(`publish ${doc}`));
    return reviewed ? 'v2 path' : 'v1 path';
  });
}

describe.each(adapters)('changing workflow code on $name', (adapter) => {
  const harnesses = new Harnesses();
  afterEach(() => harnesses.closeAll());

  it('runs that passed a patch on the old code keep the old path; runs that reach it on the new code take the new one', async () => {
    const h = await harnesses.create(adapter);
    const ran: string[] = [];
    const v1 = h.engine();
    const old = await Promise.all(['a', 'b'].map((doc) => v1.start(version1(ran), doc)));
    for (const { workflowId } of old)
      await until(async () => (await v1.get(workflowId))?.status === 'sleeping', 'the v1 run sleeps');
    await v1.stop(); // v2 is deployed

    const v2 = h.engine();
    v2.register(version2(ran));
    expect(await v2.recover()).toBe(2);
    const fresh = await v2.start(version2(ran), 'c');
    await until(async () => (await v2.get(fresh.workflowId))?.status === 'sleeping', 'the v2 run sleeps');
    await h.clock.advance(8 * HOUR);

    for (const { workflowId } of old) expect(await v2.result(workflowId)).toBe('v1 path');
    expect(await fresh.result()).toBe('v2 path');
    // The old runs skipped the review (they were past it) but reached the notice on the new code.
    expect(ran.filter((r) => r.endsWith(' a'))).toEqual(['draft a', 'notice a', 'publish a']);
    expect(ran.filter((r) => r.endsWith(' c'))).toEqual(['draft c', 'review c', 'notice c', 'publish c']);
    const names = async (id: string) => (await v2.steps(id)).map((s) => s.name);
    expect(await names(old[0]!.workflowId)).toEqual([
      'draft',
      'sleep',
      'garrison.patch:notice-after-wait',
      'notice',
      'publish',
    ]);
    expect(await names(fresh.workflowId)).toEqual([
      'draft',
      'garrison.patch:review-before-wait',
      'review',
      'sleep',
      'garrison.patch:notice-after-wait',
      'notice',
      'publish',
    ]);
  });

  it('a replay answers as the first execution did, and deprecatePatch retires the call', async () => {
    const h = await harnesses.create(adapter);
    const ran: string[] = [];
    const first = h.engine();
    const run = await first.start(version2(ran), 'd');
    await until(async () => (await first.get(run.workflowId))?.status === 'sleeping', 'the run sleeps');
    await first.stop();

    // v3: every old run is gone, so the review is unconditional and the patch call is deprecated.
    const v3 = defineWorkflow('document', async (ctx, doc: string) => {
      await ctx.step('draft', async () => void ran.push(`draft ${doc}`));
      ctx.deprecatePatch('review-before-wait');
      await ctx.step('review', async () => void ran.push(`review ${doc}`));
      await ctx.sleep(8 * HOUR);
      await ctx.step('publish', async () => void ran.push(`publish ${doc}`));
      return 'v3';
    });
    const second = h.engine();
    second.register(v3);
    await second.recover();
    const newer = await second.start(v3, 'e');
    for (const id of [run.workflowId, newer.workflowId])
      await until(async () => (await second.get(id))?.status === 'sleeping', 'both runs sleep');
    await h.clock.advance(8 * HOUR);
    expect(await second.result(run.workflowId)).toBe('v3');
    expect(await newer.result()).toBe('v3');
    // Both wake at the same moment: each document's own order is what is fixed.
    expect(ran.filter((r) => r.endsWith(' d'))).toEqual(['draft d', 'review d', 'publish d']);
    expect(ran.filter((r) => r.endsWith(' e'))).toEqual(['draft e', 'review e', 'publish e']);
  });

  it('a replay that meets a removed step is non_determinism, shown on the failed run', async () => {
    const h = await harnesses.create(adapter);
    const ran: string[] = [];
    const first = h.engine();
    const run = await first.start(version1(ran), 'f');
    await until(async () => (await first.get(run.workflowId))?.status === 'sleeping', 'the run sleeps');
    await first.stop();

    const careless = defineWorkflow('document', async (ctx) => {
      await ctx.sleep(8 * HOUR); // the draft step removed without a patch
      return 'careless';
    });
    const second = h.engine();
    second.register(careless);
    await second.recover();
    await h.clock.advance(8 * HOUR); // a sleeping run replays when it wakes
    const error = await rejectionOf(second.result(run.workflowId));
    expect((error.details?.error as { code?: string }).code).toBe(WorkflowErrorCode.nonDeterminism);
    expect((await second.get(run.workflowId))?.status).toBe('failed');
  });

  it('rejects a bad change id', async () => {
    const h = await harnesses.create(adapter);
    const engine = h.engine();
    const bad = defineWorkflow('bad-patch', async (ctx) => ctx.patched('has spaces'));
    const error = await rejectionOf((await engine.start(bad, null)).result());
    expect(JSON.stringify(error.details)).toContain('change id');
  });
});
