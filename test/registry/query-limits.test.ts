/**
 * What one registry query may ask, and paging: prototype names are unknown paths (never a crash), a query
 * is bounded in criteria and values with an error naming the bound, the largest query allowed runs on both
 * engines with lists bound as one parameter, and listings page by id with an opaque cursor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidCriteriaError, type Agent, type Criterion } from '../../src/registry/index.js';
import { adapters } from '../support/stores.js';
import { agent, ids, openRegistry, rejectionOf, type RegistryFixture } from './support/fixtures.js';

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
];

describe.each(adapters)('registry query limits and paging on $name', (adapter) => {
  let f: RegistryFixture | undefined;
  afterEach(async () => {
    await f?.store.close();
    f = undefined;
  });

  async function withAgents(n: number): Promise<RegistryFixture> {
    f = await openRegistry(adapter);
    const inputs = Array.from({ length: n }, (_, i) =>
      agent(`agent-${String(i).padStart(3, '0')}`, {
        capabilities: [`cap-${i % 7}`],
        resources: { slots: i },
        metadata: { n: i, tag: `t${i % 5}`, tags: [`x${i % 3}`] },
      }),
    );
    await f.registry.registerMany(inputs);
    return f;
  }

  it('a path named like an Object.prototype member is an unknown path (invalid_criteria), for query and list', async () => {
    const { registry } = await withAgents(2);
    for (const path of PROTOTYPE_NAMES) {
      for (const op of ['eq', 'in'] as const) {
        const error = await rejectionOf(registry.query([{ path, op, value: op === 'in' ? ['x'] : 'x' }]));
        expect(error).toBeInstanceOf(InvalidCriteriaError);
        expect(error.code).toBe('invalid_criteria');
        expect(error.message).toContain('unknown path');
      }
      const filterError = await rejectionOf(registry.list({ [path]: 'x' }));
      expect(filterError.code).toBe('invalid_input');
      expect(filterError.message).toContain('unknown field');
    }
  });

  it('a resource or top-level metadata key __proto__ is refused; constructor and nested __proto__ are kept', async () => {
    f = await openRegistry(adapter);
    // JSON.parse makes __proto__ an own key, as a request body would.
    for (const fields of [
      { resources: JSON.parse('{"__proto__":3}') as Record<string, number> },
      { metadata: JSON.parse('{"__proto__":{"a":1}}') as Record<string, never> },
    ]) {
      const error = await rejectionOf(f.registry.register(agent('refused', fields)));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain('"__proto__" is reserved');
    }
    expect(await f.registry.lookup('refused')).toBeUndefined();
    await f.registry.register(
      agent('proto', {
        resources: JSON.parse('{"constructor":4,"toString":5}') as Record<string, number>,
        metadata: JSON.parse('{"m":{"__proto__":{"a":1}}}') as Record<string, never>,
      }),
    );
    const stored = await f.registry.get('proto');
    expect(Object.keys(stored.resources).sort()).toEqual(['constructor', 'toString']);
    expect(ids(await f.registry.query([{ path: 'resources.constructor', op: 'gte', value: 4 }]))).toEqual([
      'proto',
    ]);
    expect(ids(await f.registry.query([{ path: 'resources.toString', op: 'in', value: [5, 6] }]))).toEqual([
      'proto',
    ]);
    expect(
      ids(await f.registry.query([{ path: 'metadata.m.__proto__.a', op: 'in', value: [1, 2] }])),
    ).toEqual(['proto']);
  });

  it('more than 50 criteria is refused, naming the limit', async () => {
    const { registry } = await withAgents(1);
    const criteria: Criterion[] = Array.from({ length: 51 }, () => ({
      path: 'health',
      op: 'eq',
      value: 'healthy',
    }));
    const error = await rejectionOf(registry.query(criteria));
    expect(error.code).toBe('invalid_criteria');
    expect(error.message).toContain('at most 50 criteria');
    expect(ids(await registry.query(criteria.slice(0, 50)))).toEqual(['agent-000']);
  });

  it('more than 1000 values in all the criteria is refused, naming the limit and the criterion', async () => {
    const { registry } = await withAgents(1);
    const list = Array.from({ length: 600 }, (_, i) => `v${i}`);
    const criteria: Criterion[] = [
      { path: 'id', op: 'in', value: list },
      { path: 'metadata.tag', op: 'not_in', value: list },
    ];
    const error = (await rejectionOf(registry.query(criteria))) as InvalidCriteriaError;
    expect(error.code).toBe('invalid_criteria');
    expect(error.index).toBe(1);
    expect(error.message).toContain('at most 1000 values');
    // 50 criteria of 1000 values each (what the API's schema lets through) is refused the same way.
    const huge: Criterion[] = Array.from({ length: 50 }, () => ({
      path: 'metadata.tag',
      op: 'in',
      value: Array.from({ length: 1000 }, (_, i) => `v${i}`),
    }));
    expect((await rejectionOf(registry.query(huge))).code).toBe('invalid_criteria');
    // A list longer than 1000 on its own is refused by the per-list bound.
    const long = await rejectionOf(registry.query([{ path: 'id', op: 'in', value: [...list, ...list] }]));
    expect(long.message).toContain('at most 1000 values');
  });

  it('the largest query allowed runs on every kind of path and finds what a plain filter finds', async () => {
    const { registry } = await withAgents(40);
    // 1000 values: the matching ones hidden among 990 that match nothing, with quotes, commas, braces
    // and backslashes that an array literal must keep as text.
    const noise = (i: number) => [`a"b,${i}`, `{${i}}`, `back\\slash${i}`, 'NULL', `é${i}`][i % 5] as string;
    const pad = (keep: Array<string | number>, n: number, make: (i: number) => string | number) => [
      ...keep,
      ...Array.from({ length: n - keep.length }, (_, i) => make(i)),
    ];
    const cases: Array<{ criterion: Criterion; expected: (a: Agent) => boolean }> = [
      {
        criterion: { path: 'id', op: 'in', value: pad(['agent-003', 'agent-017'], 1000, noise) },
        expected: (a) => a.id === 'agent-003' || a.id === 'agent-017',
      },
      {
        criterion: { path: 'capabilities', op: 'in', value: pad(['cap-2', 'cap-5'], 1000, noise) },
        expected: (a) => a.capabilities.includes('cap-2') || a.capabilities.includes('cap-5'),
      },
      {
        criterion: { path: 'resources.slots', op: 'in', value: pad([4, 9, 30], 1000, (i) => 1000.5 + i) },
        expected: (a) => [4, 9, 30].includes(a.resources.slots as number),
      },
      {
        criterion: { path: 'metadata.n', op: 'in', value: pad([1, 2.0, 39], 1000, (i) => -1 - i) },
        expected: (a) => [1, 2, 39].includes(a.metadata.n as number),
      },
      {
        criterion: { path: 'metadata.tags', op: 'in', value: pad(['x1'], 1000, noise) },
        expected: (a) => (a.metadata.tags as string[]).includes('x1'),
      },
      {
        criterion: { path: 'version', op: 'not_in', value: pad([1], 1000, (i) => 100 + i) },
        expected: () => false,
      },
      {
        criterion: { path: 'metadata.tag', op: 'not_in', value: pad(['t0', 't4'], 1000, noise) },
        expected: (a) => a.metadata.tag !== 't0' && a.metadata.tag !== 't4',
      },
    ];
    const all = await registry.list();
    for (const { criterion, expected } of cases) {
      expect(ids(await registry.query([criterion])), JSON.stringify(criterion.path)).toEqual(
        ids(all.filter(expected)),
      );
    }
  });

  it('listPage and queryPage walk every agent once, in id order, with a cursor', async () => {
    const { registry } = await withAgents(25);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await registry.queryPage([{ path: 'capabilities', op: 'neq', value: 'cap-0' }], {
        limit: 4,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(page.agents.length).toBeLessThanOrEqual(4);
      seen.push(...ids(page.agents));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    const expected = ids((await registry.list()).filter((a) => !a.capabilities.includes('cap-0')));
    expect(seen).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 4));

    const first = await registry.listPage({}, { limit: 25 });
    expect(first.agents).toHaveLength(25);
    expect(first.nextCursor).toBeNull();
    const byDefault = await registry.listPage();
    expect(byDefault.agents).toHaveLength(25);
    const healthy = await registry.listPage({ health: 'healthy' }, { limit: 10 });
    expect(ids(healthy.agents)).toEqual(ids(first.agents).slice(0, 10));
    expect(healthy.nextCursor).not.toBeNull();
  });

  it('a default page is 100 agents, and a limit over 1000 or a foreign cursor is refused', async () => {
    const { registry } = await withAgents(101);
    const page = await registry.listPage();
    expect(page.agents).toHaveLength(100);
    const rest = await registry.listPage({}, { cursor: page.nextCursor as string });
    expect(ids(rest.agents)).toEqual(['agent-100']);
    expect(rest.nextCursor).toBeNull();
    expect((await rejectionOf(registry.listPage({}, { limit: 1001 }))).message).toContain('at most 1000');
    expect((await rejectionOf(registry.listPage({}, { limit: 0 }))).code).toBe('invalid_input');
    for (const cursor of ['not a cursor', 'e30', Buffer.from('[1]').toString('base64url')]) {
      const error = await rejectionOf(registry.queryPage([], { cursor }));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain('cursor');
    }
  });
});
