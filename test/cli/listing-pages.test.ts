/**
 * `garrison agents` and `garrison timers` page: at most --limit rows, a line (or `nextCursor` in JSON)
 * saying how to go on, and --cursor taking the next page, until every row has been shown once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/index.js';
import { createRegistry } from '../../src/registry/index.js';
import { DurableTimers } from '../../src/scheduler/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { adapters } from '../support/stores.js';
import { cli, lastJson } from './support.js';

interface Page {
  readonly nextCursor: string | null;
  readonly agents?: Array<{ id: string }>;
  readonly timers?: Array<{ id: string }>;
}

describe.each(adapters)('listing pages in the command line on $name', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function fresh(): Promise<{ url: string; store: Store }> {
    const url = adapter.freshUrl();
    const store = await openStore(url);
    opened.push(store);
    return { url, store };
  }

  async function walk(command: string, url: string, extra: string[] = []): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const args = [command, '--limit', '2', '--store', url, '--json', ...extra];
      const reply = await cli(...args, ...(cursor === null ? [] : ['--cursor', cursor]));
      expect(reply.code, reply.stderr).toBe(0);
      const page = lastJson<Page>(reply.stdout);
      const rows = page.agents ?? page.timers ?? [];
      expect(rows.length).toBeLessThanOrEqual(2);
      seen.push(...rows.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    return seen;
  }

  it('agents: --limit and --cursor walk every agent once; the table says when there are more', async () => {
    const { url, store } = await fresh();
    const registry = createRegistry({ store });
    await registry.registerMany(
      ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'].map((id, i) => ({
        id,
        capabilities: ['work'],
        health: i === 2 ? 'unhealthy' : 'healthy',
        node: 'n1',
        resources: {},
      })),
    );
    expect(await walk('agents', url)).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
    expect(await walk('agents', url, ['--health', 'healthy'])).toEqual(['a-1', 'a-2', 'a-4', 'a-5']);
    const table = await cli('agents', '--limit', '2', '--store', url);
    expect(table.stdout).toMatch(/more agents: run again with --cursor [A-Za-z0-9_-]+/);
    const last = await cli('agents', '--limit', '5', '--store', url);
    expect(last.stdout).not.toContain('more agents');
    const bad = await cli('agents', '--cursor', 'nope', '--store', url);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('cursor');
    const tooMany = await cli('agents', '--limit', '1001', '--store', url);
    expect(tooMany.stderr).toContain('at most 1000');
  });

  it('timers: --limit and --cursor walk every timer once, soonest first', async () => {
    const { url, store } = await fresh();
    const clock = new VirtualClock();
    const timers = new DurableTimers({ store, clock, nodeId: 'cli-test' });
    for (let i = 0; i < 5; i++) {
      await timers.schedule({ id: `t-${i}`, topic: 'paging', at: clock.now() + 1000 * (5 - i), payload: i });
    }
    expect(await walk('timers', url)).toEqual(['t-4', 't-3', 't-2', 't-1', 't-0']);
    const table = await cli('timers', '--limit', '3', '--store', url);
    expect(table.stdout).toMatch(/more timers: run again with --cursor [A-Za-z0-9_-]+/);
  });
});
