/**
 * The dashboard shows why queued tasks wait, in a real browser (Chromium, see test/support/chromium.ts):
 * a queue no live node consumes shows `no_live_consumer` with its reason in the queues table, and
 * `GET /v1/queues/waiting`, which the page reads, answers the same.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/api/index.js';
import { startNode, type GarrisonNode } from '../../src/node/index.js';
import type { Store } from '../../src/store/index.js';
import { launchChromium } from '../support/chromium.js';
import { adapters } from '../support/stores.js';
import { call } from '../api/support.js';

/** How long the page may take to show a change (it refreshes every 2 s). A wait, not a measurement. */
const SHOWN_WITHIN_MS = 20_000;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(adapters)('dashboard queue waits in Chromium on $name', (adapter) => {
  let store: Store | undefined;
  let node: GarrisonNode | undefined;
  let api: ApiServer | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  afterEach(async () => {
    expect(pageErrors).toEqual([]);
    await page?.close();
    await api?.close();
    await node?.stop();
    await store?.close();
    page = api = node = store = undefined;
  });

  it('a queue no live node consumes shows why its tasks wait', async () => {
    store = await adapter.open();
    node = await startNode({ store, nodeName: 'dash-node' });
    api = await startApiServer(node, { port: 0 });
    await node.queues.enqueue('emails', { to: 'ada' });
    const waiting = await call(api.url, 'GET', '/v1/queues/waiting');
    expect(waiting.json).toEqual({
      queues: [
        {
          queue: 'emails',
          tasks: 1,
          reason: 'no_live_consumer',
          message: 'no live node consumes queue emails',
        },
      ],
      capabilities: [],
    });
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(api.url);
    const row = page.locator('#queues tr', { has: page.locator('td', { hasText: /^emails$/ }) });
    await row.locator('td.waits', { hasText: 'no_live_consumer' }).waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await row.locator('td.waits').textContent()).toBe(
      'no_live_consumer (no live node consumes queue emails)',
    );
  });
});
