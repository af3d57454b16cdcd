/**
 * The store contract. Every case runs on every adapter (SQLite and PostgreSQL): a layer above the store
 * may rely on exactly what this file proves, and on nothing else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { latestMigration, parseJson, toJson, type Store, type Tx } from '../../src/store/index.js';
import { adapters, itOnPostgres } from '../support/stores.js';
import { createItems, deferred, labels, OpenStores, rejectionOf } from './helpers.js';

describe.each(adapters)('store contract on $name', (adapter) => {
  const stores = new OpenStores();
  afterEach(() => stores.closeAll());

  async function itemsStore(): Promise<{ store: Store; url: string }> {
    const opened = await stores.fresh(adapter);
    await createItems(opened.store);
    return opened;
  }

  describe('transactions', () => {
    it('a committed transaction makes all its writes visible, also to another connection', async () => {
      const { store, url } = await itemsStore();
      const result = await store.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (id, label) VALUES ($1, $2), ($3, $4)', [1, 'a', 2, 'b']);
        await tx.execute('INSERT INTO items (id, label) VALUES ($1, $2)', [3, 'c']);
        await tx.execute('UPDATE items SET label = $1 WHERE id = $2', ['b2', 2]);
        return 'done';
      });
      expect(result).toBe('done');
      expect(await labels(store)).toEqual(['a', 'b2', 'c']);
      const other = await stores.at(url, { migrate: false });
      expect(await labels(other)).toEqual(['a', 'b2', 'c']);
    });

    it('a throw inside the transaction rolls back every write and reaches the caller unchanged', async () => {
      const { store } = await itemsStore();
      await store.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['before']);
      const boom = new Error('boom');
      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['x']);
          await tx.execute('UPDATE items SET label = $1 WHERE id = 1', ['changed']);
          throw boom;
        }),
      );
      expect(error).toBe(boom);
      expect(await labels(store)).toEqual(['before']);
    });

    it('a constraint violation rolls back every write of the transaction', async () => {
      const { store } = await itemsStore();
      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['a']);
          await tx.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['b']);
          await tx.execute('INSERT INTO items (id, label) VALUES (3, $1)', ['a']);
        }),
      );
      expect(error.code).toBe('constraint_violation');
      expect(await labels(store)).toEqual([]);
      // The store is still usable afterwards.
      await store.transaction((tx) => tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['a']));
      expect(await labels(store)).toEqual(['a']);
    });

    it('a failed savepoint undoes only its own writes; the transaction goes on and commits', async () => {
      const { store } = await itemsStore();
      await store.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['kept']);
        const error = await rejectionOf(
          tx.savepoint(async (sp) => {
            await sp.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['undone']);
            await sp.execute('INSERT INTO items (id, label) VALUES (3, $1)', ['kept']);
          }),
        );
        expect(error.code).toBe('constraint_violation');
        await tx.savepoint(async (sp) => {
          await sp.execute('INSERT INTO items (id, label) VALUES (4, $1)', ['outer savepoint']);
          await sp
            .savepoint(async (inner) => {
              await inner.execute('INSERT INTO items (id, label) VALUES (5, $1)', ['inner undone']);
              throw new Error('inner fails');
            })
            .catch((e: Error) => expect(e.message).toBe('inner fails'));
        });
        await tx.execute('INSERT INTO items (id, label) VALUES (6, $1)', ['after']);
      });
      expect(await labels(store)).toEqual(['kept', 'outer savepoint', 'after']);
    });

    it.each(['transaction', 'write', 'execute'] as const)(
      'store.%s inside a transaction is rejected with nested_transaction and nothing is written',
      async (method) => {
        const { store } = await itemsStore();
        let nestedRan = false;
        const nested = async (tx: Tx) => {
          nestedRan = true;
          await tx.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['nested']);
        };
        const call = () =>
          method === 'execute'
            ? store.execute('INSERT INTO items (id, label) VALUES (2, $1)', ['nested'])
            : store[method](nested);
        const outer = async (tx: Tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['outer']);
          await call();
        };
        const fromTransaction = await rejectionOf(store.transaction(outer));
        const fromWrite = await rejectionOf(store.write(outer));
        for (const error of [fromTransaction, fromWrite]) {
          expect(error.code).toBe('nested_transaction');
          expect(error.message).toMatch(/tx\.savepoint/);
        }
        expect(nestedRan).toBe(false);
        expect(await labels(store)).toEqual([]);
      },
    );
  });

  describe('after-commit hooks', () => {
    it('run once the commit is done, in order, and see the committed rows from another connection', async () => {
      const { store, url } = await itemsStore();
      const observer = await stores.at(url, { migrate: false });
      const events: string[] = [];
      const seen: Array<Promise<string[]>> = [];
      await store.transaction(
        async (tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['a']);
          tx.afterCommit(() => {
            events.push('first hook');
            seen.push(labels(observer));
          });
          tx.afterCommit(() => events.push('second hook'));
          events.push('body done');
        },
        { beforeCommit: () => void events.push('before commit') },
      );
      expect(events).toEqual(['body done', 'before commit', 'first hook', 'second hook']);
      expect(await Promise.all(seen)).toEqual([['a']]);
    });

    it('never run when the transaction rolls back', async () => {
      const { store } = await itemsStore();
      const events: string[] = [];
      await rejectionOf(
        store.transaction(async (tx) => {
          tx.afterCommit(() => events.push('hook'));
          throw new Error('roll back');
        }),
      );
      await rejectionOf(
        store.transaction(
          async (tx) => {
            tx.afterCommit(() => events.push('hook'));
          },
          {
            beforeCommit: () => {
              throw new Error('fails just before commit');
            },
          },
        ),
      );
      expect(events).toEqual([]);
    });

    it('registered inside a rolled-back savepoint do not run; the others do', async () => {
      const { store } = await itemsStore();
      const events: string[] = [];
      await store.transaction(async (tx) => {
        tx.afterCommit(() => events.push('outer'));
        await rejectionOf(
          tx.savepoint(async (sp) => {
            sp.afterCommit(() => events.push('undone savepoint'));
            throw new Error('undo');
          }),
        );
        await tx.savepoint(async (sp) => sp.afterCommit(() => events.push('kept savepoint')));
      });
      expect(events).toEqual(['outer', 'kept savepoint']);
    });
  });

  describe('group commit', () => {
    it('2,000 concurrent writes all commit, each resolving only once its row is visible elsewhere', async () => {
      const { store, url } = await itemsStore();
      const observer = await stores.at(url, { migrate: false });
      const transactions = new Set<Tx>();
      const visibleAtResolve = await Promise.all(
        Array.from({ length: 2000 }, (_, i) =>
          store
            .write(async (tx) => {
              transactions.add(tx);
              await tx.execute('INSERT INTO items (id, label) VALUES ($1, $2)', [i, `w${i}`]);
              return i;
            })
            .then(async (id) => {
              expect(id).toBe(i);
              const rows = await observer.query('SELECT id FROM items WHERE id = $1', [i]);
              return rows.length;
            }),
        ),
      );
      expect(visibleAtResolve.every((n) => n === 1)).toBe(true);
      const count = await store.query<{ n: number }>('SELECT COUNT(*) AS n FROM items');
      expect(count[0]?.n).toBe(2000);
      // Batched: far fewer transactions than writes.
      expect(transactions.size).toBeGreaterThan(1);
      expect(transactions.size).toBeLessThan(100);
    });

    it('one failing write in a batch rejects only itself; the rest of the batch commits', async () => {
      const { store } = await itemsStore();
      // The first write holds its batch open, so the next ten queue up and form one batch together.
      const gate = deferred();
      const first = store.write(async (tx) => {
        await gate.promise;
        await tx.execute('INSERT INTO items (id, label) VALUES (0, $1)', ['first']);
      });
      const transactions = new Set<Tx>();
      const writes = Array.from({ length: 10 }, (_, i) =>
        store.write(async (tx) => {
          transactions.add(tx);
          // Write 5 reuses write 2's label: a constraint violation in the middle of the batch.
          const label = i === 5 ? 'w2' : `w${i}`;
          await tx.execute('INSERT INTO items (id, label) VALUES ($1, $2)', [i + 1, label]);
          tx.afterCommit(() => undefined);
          return i;
        }),
      );
      gate.resolve();
      await first;
      const outcomes = await Promise.allSettled(writes);
      expect(transactions.size).toBe(1);
      outcomes.forEach((outcome, i) => {
        if (i === 5) {
          expect(outcome.status).toBe('rejected');
          expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'constraint_violation' });
        } else {
          expect(outcome).toEqual({ status: 'fulfilled', value: i });
        }
      });
      expect(await labels(store)).toEqual(['first', 'w0', 'w1', 'w2', 'w3', 'w4', 'w6', 'w7', 'w8', 'w9']);
    });
  });

  it('concurrent transactions incrementing one counter serialize: no update is lost', async () => {
    const { store } = await stores.fresh(adapter);
    await store.execute('CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)');
    await store.execute('INSERT INTO counter (id, value) VALUES (1, 0)');
    // PostgreSQL reads under a row lock; SQLite's BEGIN IMMEDIATE already holds the write lock.
    const read =
      store.dialect === 'postgres'
        ? 'SELECT value FROM counter WHERE id = 1 FOR UPDATE'
        : 'SELECT value FROM counter WHERE id = 1';
    await Promise.all(
      Array.from({ length: 40 }, () =>
        store.transaction(async (tx) => {
          const rows = await tx.query<{ value: number }>(read);
          // Yield between read and write so that other transactions get every chance to interleave.
          await new Promise((resolve) => setImmediate(resolve));
          await tx.execute('UPDATE counter SET value = $1 WHERE id = 1', [(rows[0]?.value ?? 0) + 1]);
        }),
      ),
    );
    expect(await store.query('SELECT value FROM counter')).toEqual([{ value: 40 }]);
  });

  describe('migrations', () => {
    const latest = () => latestMigration(adapter.name);

    async function recordedIds(store: Store): Promise<Array<{ id: number; n: number }>> {
      return store.query('SELECT id, COUNT(*) AS n FROM garrison_migrations GROUP BY id ORDER BY id');
    }
    const eachOnce = () => Array.from({ length: latest() }, (_, i) => ({ id: i + 1, n: 1 }));

    it('a fresh store holds every migration; migrating again applies nothing', async () => {
      const { store } = await stores.fresh(adapter);
      expect(await store.status()).toMatchObject({ version: latest(), latest: latest(), pending: [] });
      expect(await store.migrate()).toEqual({ applied: [], version: latest() });
      expect(await store.migrate()).toEqual({ applied: [], version: latest() });
      expect(await recordedIds(store)).toEqual(eachOnce());
    });

    it('a database that is not migrated yet reports every migration pending', async () => {
      const url = adapter.freshUrl();
      const store = await stores.at(url, { migrate: false });
      const status = await store.status();
      expect(status).toMatchObject({ dialect: adapter.name, version: 0, latest: latest() });
      expect(status.pending).toEqual(eachOnce().map((m) => m.id));
      const password = adapter.name === 'postgres' ? new URL(url).password : '';
      if (password !== '') expect(status.location).not.toContain(`:${password}@`);
    });

    it('two stores opened on one new database at once both migrate it; each migration is recorded once', async () => {
      const url = adapter.freshUrl();
      const [a, b] = await Promise.all([stores.at(url), stores.at(url)]);
      expect(await recordedIds(a)).toEqual(eachOnce());
      expect(await b.status()).toMatchObject({ version: latest(), pending: [] });
    });

    it('two migrations racing on one database: one applies everything, the other nothing', async () => {
      const url = adapter.freshUrl();
      const a = await stores.at(url, { migrate: false });
      const b = await stores.at(url, { migrate: false });
      const reports = await Promise.all([a.migrate(), b.migrate(), a.migrate()]);
      const appliedCounts = reports.map((r) => r.applied.length).sort((x, y) => x - y);
      expect(appliedCounts).toEqual([0, 0, latest()]);
      expect(reports.every((r) => r.version === latest())).toBe(true);
      expect(await recordedIds(b)).toEqual(eachOnce());
    });

    it('a database with a migration newer than the code is refused with schema_too_new and left unchanged', async () => {
      const { store, url } = await itemsStore();
      const future = latest() + 1;
      await store.execute('INSERT INTO garrison_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
        future,
        'from_the_future',
        1,
      ]);
      await store.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['canary']);
      const dump = async (s: Store) => [
        await s.query('SELECT * FROM garrison_migrations ORDER BY id'),
        await labels(s),
      ];
      const before = await dump(store);

      const fromOpen = await rejectionOf(stores.at(url));
      const fromOpenWithoutMigrate = await rejectionOf(stores.at(url, { migrate: false }));
      const fromMigrate = await rejectionOf(store.migrate());
      for (const error of [fromOpen, fromOpenWithoutMigrate, fromMigrate]) {
        expect(error.code).toBe('schema_too_new');
        expect(error.message).toContain(`migration ${future}`);
        expect(error.message).toContain(`(${latest()})`);
      }
      expect(await dump(store)).toEqual(before);
    });
  });

  it('a closed store rejects every call with store_closed', async () => {
    const { store } = await stores.fresh(adapter);
    await store.close();
    await store.close();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['query', () => store.query('SELECT 1')],
      ['execute', () => store.execute('SELECT 1')],
      ['transaction', () => store.transaction(async () => 1)],
      ['write', () => store.write(async () => 1)],
      ['migrate', () => store.migrate()],
      ['status', () => store.status()],
      ['notify', () => store.notify('ch')],
      ['listen', () => store.listen('ch', () => undefined)],
    ];
    for (const [name, call] of calls) {
      const error = await rejectionOf(call());
      expect({ name, code: error.code }).toEqual({ name, code: 'store_closed' });
    }
  });

  it('values round-trip: BIGINT epoch ms as numbers, JSON, NULL, 0/1 and booleans as 0/1', async () => {
    const { store } = await stores.fresh(adapter);
    const json = store.dialect === 'postgres' ? 'JSONB' : 'TEXT';
    await store.execute(
      `CREATE TABLE vals (id INTEGER PRIMARY KEY, at BIGINT, doc ${json}, note TEXT, flag INTEGER)`,
    );
    const at = 1_795_000_000_123; // > 2^32
    const doc = { name: 'Zoë ✓', nested: { list: [1, 2.5, null, 'x'], on: true }, empty: {} };
    const insert = 'INSERT INTO vals (id, at, doc, note, flag) VALUES ($1, $2, $3, $4, $5)';
    await store.execute(insert, [1, at, toJson(doc), null, 1]);
    await store.execute(insert, [2, Number.MAX_SAFE_INTEGER, toJson([]), undefined, 0]);
    await store.write((tx) => tx.execute(insert, [3, 0, toJson(null), "it's", true]));
    await store.transaction((tx) => tx.execute(insert, [4, -1, toJson('text'), '', false]));

    const rows = await store.query<{
      id: number;
      at: number;
      doc: unknown;
      note: string | null;
      flag: number;
    }>('SELECT id, at, doc, note, flag FROM vals ORDER BY id');
    expect(rows.map((r) => ({ ...r, doc: parseJson(r.doc) }))).toEqual([
      { id: 1, at, doc, note: null, flag: 1 },
      { id: 2, at: Number.MAX_SAFE_INTEGER, doc: [], note: null, flag: 0 },
      { id: 3, at: 0, doc: null, note: "it's", flag: 1 },
      { id: 4, at: -1, doc: 'text', note: '', flag: 0 },
    ]);
    const [agg] = await store.query<{ n: unknown; newest: unknown }>(
      'SELECT COUNT(*) AS n, MAX(at) AS newest FROM vals',
    );
    expect(agg).toEqual({ n: 4, newest: Number.MAX_SAFE_INTEGER });
  });

  describe('notify and listen', () => {
    it('a listener hears each notification of its own store once, in order', async () => {
      const { store } = await stores.fresh(adapter);
      const heard: string[] = [];
      const other: string[] = [];
      await store.listen('jobs', (p) => heard.push(p));
      await store.listen('other', (p) => other.push(p));
      await store.notify('jobs', 'one');
      await store.notify('jobs');
      await store.notify('jobs', 'three');
      expect(heard).toEqual(['one', '', 'three']);
      expect(other).toEqual([]);
    });

    it('inside a transaction a notification is heard after the commit, and never after a rollback', async () => {
      const { store } = await stores.fresh(adapter);
      const heard: string[] = [];
      await store.listen('jobs', (p) => heard.push(p));
      await store.transaction(async () => {
        await store.notify('jobs', 'committed');
        expect(heard).toEqual([]);
      });
      expect(heard).toEqual(['committed']);
      await rejectionOf(
        store.transaction(async () => {
          await store.notify('jobs', 'rolled back');
          throw new Error('roll back');
        }),
      );
      await store.transaction(async (tx) => {
        await rejectionOf(
          tx.savepoint(async () => {
            await store.notify('jobs', 'undone savepoint');
            throw new Error('undo');
          }),
        );
      });
      await store.write(async () => store.notify('jobs', 'written'));
      expect(heard).toEqual(['committed', 'written']);
    });

    it('unsubscribing stops delivery to that listener only', async () => {
      const { store } = await stores.fresh(adapter);
      const a: string[] = [];
      const b: string[] = [];
      const stopA = await store.listen('jobs', (p) => a.push(p));
      await store.listen('jobs', (p) => b.push(p));
      await store.notify('jobs', '1');
      await stopA();
      await stopA();
      await store.notify('jobs', '2');
      expect(a).toEqual(['1']);
      expect(b).toEqual(['1', '2']);
    });

    itOnPostgres(adapter)(
      'notifications reach listeners of another store on the same database, and only them',
      async () => {
        const { store: sender, url } = await stores.fresh(adapter);
        const receiver = await stores.at(url, { migrate: false });
        const fencer = await stores.at(url, { migrate: false });
        const elsewhere = await stores.fresh(adapter);
        expect(receiver.capabilities.notify).toBe(true);
        const heard: string[] = [];
        const heardElsewhere: string[] = [];
        const fences = [deferred(), deferred()] as const;
        await receiver.listen('jobs', (p) => heard.push(p));
        await receiver.listen('fence', () => fences[0].resolve());
        await sender.listen('jobs', (p) => heard.push(`sender:${p}`));
        await sender.listen('fence', () => fences[1].resolve());
        await elsewhere.store.listen('jobs', (p) => heardElsewhere.push(p));
        await sender.notify('jobs', 'one');
        await sender.transaction(async () => sender.notify('jobs', 'two'));
        await rejectionOf(
          sender.transaction(async () => {
            await sender.notify('jobs', 'rolled back');
            throw new Error('roll back');
          }),
        );
        await elsewhere.store.notify('jobs', 'other schema');
        // Notifications arrive in commit order: once the fence is heard, everything sent before it has
        // been, including any echo of the sender's own notifications (which it must not hear twice).
        await fencer.notify('fence');
        await Promise.all(fences.map((f) => f.promise));
        expect(heard.filter((p) => !p.startsWith('sender:'))).toEqual(['one', 'two']);
        expect(heard.filter((p) => p.startsWith('sender:'))).toEqual(['sender:one', 'sender:two']);
        expect(heardElsewhere).toEqual(['other schema']);
      },
    );
  });
});
