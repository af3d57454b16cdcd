/** The dashboard page: served by the API at `/`, self-contained, and reading only routes the API has. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DASHBOARD_ENDPOINTS, DASHBOARD_SCRIPT_SHA256, dashboardPage } from '../../src/dashboard/index.js';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from '../api/support.js';

describe.each(adapters)('dashboard on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('GET / serves the page as HTML under a policy that allows only its own script (by hash) and this server, with no referrer', async () => {
    h = await startHarness(adapter);
    const page = await call(h.url, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    // Scripts: only the page's own inline script, by its hash; nothing injected could run.
    const script = /<script>([\s\S]*)<\/script>/.exec(page.text)?.[1] ?? '';
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    expect(hash).toBe(DASHBOARD_SCRIPT_SHA256);
    const scriptSrc = /script-src ([^;]*)/.exec(page.headers.get('content-security-policy') ?? '')?.[1];
    expect(scriptSrc).toBe(`'sha256-${hash}'`);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.text).toBe(dashboardPage());
    expect(page.text).toMatch(/^<!doctype html>/);
  });

  it('every endpoint the page uses is a route of the API, and the page names each one', async () => {
    h = await startHarness(adapter);
    const routes = h.api.routes.map((r) => `${r.method} ${r.path}`);
    const page = dashboardPage();
    for (const endpoint of DASHBOARD_ENDPOINTS) {
      expect(routes, endpoint).toContain(endpoint);
      const path = endpoint.split(' ')[1]!.split('/:')[0]!;
      expect(page, endpoint).toContain(`'${path}`);
    }
  });

  it('is self-contained: no external script, style, font or URL; the token stays out of URLs', () => {
    const page = dashboardPage();
    expect(page).not.toMatch(/<script[^>]+src=/);
    expect(page).not.toMatch(/<link[^>]+href=/);
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toContain('@import');
    expect(page).not.toContain('EventSource'); // it cannot send a header; the stream is read with fetch
    expect(page).toContain("sessionStorage.getItem('garrison.token')");
    expect(page).toContain("authorization: 'Bearer ' + token");
    expect(page.length).toBeLessThan(20_000);
  });
});
