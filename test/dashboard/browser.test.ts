/**
 * The dashboard in a real browser (Chromium driven by playwright-core; see test/support/chromium.ts) against a running node:
 * a workflow started through the API appears and completes, a dead letter is retried by a click, and
 * with a token the page asks for it once and then shows the data.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, startApiServer, type ApiServer } from '../../src/api/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { z } from 'zod';
import { defineAction, defineAgent, listAuditEvents } from '../../src/agents/index.js';
import { recordModelUsage } from '../../src/governance/index.js';
import { defineWorkflow } from '../../src/work/index.js';
import { launchChromium } from '../support/chromium.js';
import { adapters } from '../support/stores.js';

/** How long the page may take to show a change (it refreshes every 2 s). A wait, not a measurement. */
const SHOWN_WITHIN_MS = 20_000;

const greeter = defineWorkflow('greeter', async (ctx, name: string) => {
  const got = await ctx.waitForSignal<{ greeting: string }>('go');
  return ctx.step('greet', () => Promise.resolve(`${got?.greeting ?? 'hello'} ${name}`));
});

/** Waits for two decisions, as an agent loop's tool calls that need approval do. */
const asker = defineWorkflow('asker', async (ctx) => [
  await ctx.waitForSignal('approval:agent:0:call-0'),
  await ctx.waitForSignal('approval:agent:1:call-1'),
]);

const idler = defineAgent({
  type: 'idler',
  capabilities: ['idle'],
  state: z.object({}),
  initialState: {},
  actions: [defineAction({ name: 'nap', input: z.object({}), output: z.null(), run: () => null })],
});

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(adapters)('dashboard in Chromium on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  let page: Page | undefined;
  let pageErrors: string[] = [];
  afterEach(async () => {
    // The page's own script never failed (a 401 before the token is entered is handled, not thrown).
    expect(pageErrors).toEqual([]);
    pageErrors = [];
    await page?.close();
    await api?.close();
    await node?.stop();
    await store?.close();
    page = api = node = store = undefined;
  });

  async function serve(options: { token?: string } = {}) {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'dash-node', workflows: [greeter, asker], agents: [idler] });
    api = await startApiServer(node, { port: 0, ...options });
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return api.url;
  }

  const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('a workflow started through the API appears, then completes, and its step timeline shows', async () => {
    const url = await serve();
    await page!.goto(url);
    await page!.locator('#live.live').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(
      (await post(url, '/v1/workflows', { name: 'greeter', input: 'world', workflowId: 'g-1' })).status,
    ).toBe(201);
    const row = page!.locator('#workflows tr[data-pick="g-1"]');
    await row.locator('td.waiting').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(
      (await post(url, '/v1/workflows/g-1/signal', { name: 'go', data: { greeting: 'hi' } })).status,
    ).toBe(202);
    await row.locator('td.completed').waitFor({ timeout: SHOWN_WITHIN_MS });
    await row.click();
    await page!.locator('#steps td', { hasText: 'greet' }).waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await page!.locator('#runtitle').textContent()).toContain('greeter g-1: completed');
    // The timeline: each step's duration, and a bar from its start to its end on the run's time axis.
    const waited = page!.locator('#steps tr', { hasText: 'go' });
    expect(await waited.locator('td.took').textContent()).toMatch(/^\d+ ms$|^\d+\.\d\d s$/);
    expect(await page!.locator('#steps .gantt span').count()).toBe(2);
    expect(await waited.locator('.gantt span').getAttribute('style')).toMatch(
      /margin-left:[\d.]+%;width:[\d.]+%/,
    );
    expect(await page!.locator('#wfcounts .completed b').textContent()).toBe('1');
  });

  it('a dead letter is retried by clicking its button: it is queued again', async () => {
    const url = await serve();
    await node!.queues.enqueue('jobs', { n: 1 }, { maxAttempts: 1 });
    const [task] = await node!.queues.claim('jobs');
    await node!.queues.fail(task!, new Error('no luck'));
    await page!.goto(url);
    const retry = page!.locator(`#dead button[data-action="retry"][data-arg="${task!.id}"]`);
    await retry.waitFor({ timeout: SHOWN_WITHIN_MS });
    await retry.click();
    await retry.waitFor({ state: 'detached', timeout: SHOWN_WITHIN_MS });
    expect((await node!.queues.getTask(task!.id))?.state).toBe('queued');
    expect(await node!.queues.listDead()).toEqual([]);
  });

  it("the coordination section lists the node's locks, leaders and pools with their holders", async () => {
    const url = await serve();
    const c = node!.coordination;
    await c.locks.acquire('deploy', { holder: 'ci', ttlMs: 600_000 });
    await c.leaders.campaign('schedulers', 'node-1', { ttlMs: 600_000 });
    await c.pools.create('gpu', { items: ['g0', 'g1'] });
    await c.pools.checkOut('gpu', { holder: 'train-1', ttlMs: 600_000 });
    await page!.goto(url);
    const cellOf = (table: string, text: string) => page!.locator(`#${table} td`, { hasText: text }).first();
    await cellOf('locks', 'deploy').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await cellOf('locks', 'ci').textContent()).toBe('ci');
    expect(await cellOf('leaders', 'schedulers').textContent()).toBe('schedulers');
    expect(await cellOf('leaders', 'node-1').textContent()).toBe('node-1');
    const rows = page!.locator('#pools tr');
    expect(await rows.nth(1).locator('td').allTextContents()).toEqual([
      'gpu (1/2 free, 0 waiting)',
      'g0',
      'train-1',
      '1',
    ]);
    expect(await rows.nth(2).locator('td').allTextContents()).toEqual([
      'gpu (1/2 free, 0 waiting)',
      'g1',
      'free',
      '0',
    ]);
  });

  it("agents show the API's status: idle, and paused with its reason", async () => {
    const url = await serve();
    await node!.agents.start(idler, { id: 'a-idle' });
    await node!.agents.start(idler, { id: 'a-paused' });
    await node!.agents.pause('a-paused', 'maintenance');
    await page!.goto(url);
    const row = (id: string) => page!.locator('#agents tr', { has: page!.locator('td', { hasText: id }) });
    await row('a-paused')
      .locator('td.paused', { hasText: 'paused (maintenance)' })
      .waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await row('a-idle').locator('td.idle').textContent()).toBe('idle');
    // Two agents fit in one page: no next page to speak of.
    expect(await page!.locator('#agentsmore').textContent()).toBe('');
  });

  it("an agent's buttons pause, resume and stop it, each request audited", async () => {
    const url = await serve();
    await node!.agents.start(idler, { id: 'a-1' });
    await page!.goto(url);
    const button = (action: string) =>
      page!.locator(`#agents button[data-action="${action}"][data-arg="a-1"]`);
    await button('agent-pause').waitFor({ timeout: SHOWN_WITHIN_MS });
    await button('agent-pause').click();
    await button('agent-resume').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect((await node!.agents.get('a-1')).status).toBe('paused');
    await button('agent-resume').click();
    await button('agent-pause').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect((await node!.agents.get('a-1')).status).not.toBe('paused');
    await button('agent-stop').click();
    // Stopped: its registry entry is gone, so is its row in the table.
    await button('agent-stop').waitFor({ state: 'detached', timeout: SHOWN_WITHIN_MS });
    expect((await node!.agents.get('a-1')).lifecycle).toBe('stopped');
    expect((await listAuditEvents(store!, { target: 'a-1' })).map((e) => [e.actor, e.action])).toEqual([
      ['api', 'agent.stop'],
      ['api', 'agent.resume'],
      ['api', 'agent.pause'],
    ]);
  });

  it('with a token the page asks for it once, keeps it for the tab, and then shows the data', async () => {
    const { token } = createApiToken();
    const url = await serve({ token });
    await page!.goto(url);
    const login = page!.locator('#login');
    await login.waitFor({ state: 'visible', timeout: SHOWN_WITHIN_MS });
    await page!.locator('#token').fill(token);
    await page!.locator('#login button').click();
    await login.waitFor({ state: 'hidden', timeout: SHOWN_WITHIN_MS });
    await page!.locator('#health.healthy').waitFor({ timeout: SHOWN_WITHIN_MS });
    await page!.locator('#nodes td', { hasText: 'dash-node' }).waitFor({ timeout: SHOWN_WITHIN_MS });
    await page!.locator('#live.live').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await page!.evaluate("sessionStorage.getItem('garrison.token')")).toBe(token);
    // A reload in the same tab does not ask again.
    await page!.reload();
    await page!.locator('#health.healthy').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await login.isVisible()).toBe(false);
  });

  it("a run waiting on a tool call's approval shows approve and deny buttons; each sends the decision; model usage shows by agent", async () => {
    const url = await serve();
    await recordModelUsage(store!, {
      runId: 'r-1',
      loop: 'agent',
      turn: 0,
      workflow: 'support-reply',
      agent: 'support',
      model: 'provider/model',
      inputTokens: 120,
      outputTokens: 30,
      totalTokens: 150,
      at: Date.now(),
    });
    await page!.goto(url);
    const usage = page!.locator('#usage tr', { hasText: 'support' });
    await usage.waitFor({ timeout: SHOWN_WITHIN_MS });
    expect((await usage.locator('td').allTextContents()).slice(0, 5)).toEqual([
      'support',
      '1',
      '120',
      '30',
      '150',
    ]);
    expect(
      (await post(url, '/v1/workflows', { name: 'asker', input: null, workflowId: 'ask-1' })).status,
    ).toBe(201);
    const row = page!.locator('#workflows tr[data-pick="ask-1"]');
    await row.locator('td.waiting').waitFor({ timeout: SHOWN_WITHIN_MS });
    await row.click();
    const first = page!.locator(`#steps button[data-action="approve"]`);
    await first.waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await first.getAttribute('data-arg')).toBe(JSON.stringify(['ask-1', 'approval:agent:0:call-0']));
    await first.click();
    // The second call waits: deny it, with the reason asked for in a prompt.
    const deny = page!.locator(`#steps button[data-action="deny"][data-arg*="call-1"]`);
    await deny.waitFor({ timeout: SHOWN_WITHIN_MS });
    page!.once('dialog', (dialog) => void dialog.accept('not today'));
    await deny.click();
    await row.locator('td.completed').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await node!.workflows.result('ask-1')).toEqual([
      { approved: true, by: 'dashboard' },
      { approved: false, by: 'dashboard', reason: 'not today' },
    ]);
    expect(await page!.locator('#steps button[data-action="approve"]').count()).toBe(0);
  });
});
