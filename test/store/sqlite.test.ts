/**
 * The SQLite adapter's own behaviour: what it does with a damaged, foreign or read-only file, another
 * process holding the write lock, the durability setting, and where the default store goes.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { repositoryRoot as root, spawnScript } from '../support/child.js';
import { createItems, labels, OpenStores, parseOutcome, rejectionOf, runFixture } from './helpers.js';

const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'garrison-sqlite-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs.splice(0)) {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  }
});

async function migratedFile(folder: string): Promise<string> {
  const path = join(folder, 'garrison.db');
  const store = await openStore(`sqlite:${path}`);
  await createItems(store);
  await store.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['original']);
  await store.close();
  return path;
}

/**
 * As root, file permissions do not stop writes, so a read-only check runs in a child process as the
 * `nobody` user; otherwise the child runs as the current user.
 */
function unprivileged(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

describe('SQLite adapter', () => {
  const stores = new OpenStores();
  afterEach(() => stores.closeAll());

  describe('a file that is not a usable database', () => {
    it('a foreign file is refused with store_corrupt naming it, and its bytes are left as they were', async () => {
      const path = join(tempDir(), 'notes.db');
      writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
      const before = readFileSync(path);
      const error = await rejectionOf(openStore(`sqlite:${path}`));
      expect(error.code).toBe('store_corrupt');
      expect(error.message).toContain(path);
      expect(error.message).toContain('file is not a database');
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    it('a database with a damaged schema page is refused with store_corrupt, bytes unchanged', async () => {
      const path = await migratedFile(tempDir());
      // Page 1 after the 100-byte file header holds the schema table: overwrite it with noise.
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(3996, 0xab), 0, 3996, 100);
      closeSync(fd);
      const before = readFileSync(path);
      const error = await rejectionOf(openStore(`sqlite:${path}`));
      expect(error.code).toBe('store_corrupt');
      expect(error.message).toMatch(/malformed/);
      expect(readFileSync(path).equals(before)).toBe(true);
    });
  });

  describe('a file this process may not write', () => {
    async function openAsUnprivileged(path: string) {
      const result = await runFixture('open-store.ts', [`sqlite:${path}`], unprivileged());
      return parseOutcome(result);
    }

    it('a read-only file in a read-only folder is refused with store_read_only; nothing changes', async () => {
      const folder = tempDir();
      const path = await migratedFile(folder);
      chmodSync(path, 0o444);
      chmodSync(folder, 0o555);
      const before = readFileSync(path);
      const outcome = await openAsUnprivileged(path);
      expect(outcome).toMatchObject({ ok: false, code: 'store_read_only' });
      expect(outcome.ok ? '' : outcome.message).toContain(path);
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    it('a read-only file in a writable folder is refused up front with store_read_only', async () => {
      const folder = tempDir();
      const path = await migratedFile(folder);
      chmodSync(path, 0o444);
      chmodSync(folder, 0o777);
      const before = readFileSync(path);
      const outcome = await openAsUnprivileged(path);
      expect(outcome).toMatchObject({ ok: false, code: 'store_read_only' });
      expect(outcome.ok ? '' : outcome.message).toContain('is read-only for this process');
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    it('a writable file in a read-only folder is refused with store_read_only naming the folder', async () => {
      const folder = tempDir();
      const path = await migratedFile(folder);
      chmodSync(path, 0o666);
      chmodSync(folder, 0o555);
      const before = readFileSync(path);
      const outcome = await openAsUnprivileged(path);
      expect(outcome).toMatchObject({ ok: false, code: 'store_read_only' });
      expect(outcome.ok ? '' : outcome.message).toContain(`the folder of ${path} is read-only`);
      expect(readFileSync(path).equals(before)).toBe(true);
    });
  });

  describe('durability', () => {
    async function synchronousOf(store: Store): Promise<number> {
      // Read on the writing connection: the setting belongs to it.
      const rows = await store.transaction((tx) => tx.query<{ synchronous: number }>('PRAGMA synchronous'));
      return rows[0]?.synchronous ?? -1;
    }
    const FULL = 2;
    const NORMAL = 1;

    it('commits with synchronous FULL by default', async () => {
      const store = await stores.at(`sqlite:${join(tempDir(), 'g.db')}`);
      expect(await synchronousOf(store)).toBe(FULL);
      const mode = await store.transaction((tx) => tx.query<{ journal_mode: string }>('PRAGMA journal_mode'));
      expect(mode).toEqual([{ journal_mode: 'wal' }]);
    });

    it('commits with synchronous NORMAL when the URL or the options ask for it', async () => {
      const viaUrl = await stores.at(`sqlite:${join(tempDir(), 'g.db')}?synchronous=NORMAL`);
      expect(await synchronousOf(viaUrl)).toBe(NORMAL);
      const viaOption = await stores.at(`sqlite:${join(tempDir(), 'g.db')}`, { synchronous: 'NORMAL' });
      expect(await synchronousOf(viaOption)).toBe(NORMAL);
    });
  });

  it('another process holding the write lock makes a write fail with store_busy after busy_timeout', async () => {
    const path = join(tempDir(), 'g.db');
    const store = await stores.at(`sqlite:${path}?busy_timeout=100`);
    await createItems(store);
    const holder = spawnScript(join(root, 'test', 'support', 'fixtures', 'hold-write-lock.ts'), [
      path,
      '--write-item',
    ]);
    try {
      await holder.line('locked');

      const error = await rejectionOf(
        store.transaction((tx) => tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['mine'])),
      );
      expect(error.code).toBe('store_busy');
      expect(error).toMatchObject({ retryable: true });
      expect(error.message).toContain(path);
      const opening = await rejectionOf(openStore(`sqlite:${path}?busy_timeout=50`));
      expect(opening.code).toBe('store_busy');
    } finally {
      await holder.kill();
    }
    // The holder died mid-transaction: its row is gone and the file takes writes again.
    await store.transaction((tx) => tx.execute('INSERT INTO items (id, label) VALUES (1, $1)', ['mine']));
    expect(await labels(store)).toEqual(['mine']);
  });

  it('the default store URL creates .garrison/garrison.db under the working directory', async () => {
    const cwd = tempDir();
    const outcome = parseOutcome(await runFixture('open-store.ts', [], { cwd }));
    const expected = join(cwd, '.garrison', 'garrison.db');
    expect(outcome).toMatchObject({ ok: true, location: expected });
    expect(existsSync(expected)).toBe(true);
  });

  it('two stores on one file in one process take turns instead of stalling each other', async () => {
    const url = `sqlite:${join(tempDir(), 'g.db')}?busy_timeout=100`;
    const a = await stores.at(url);
    await createItems(a);
    const b = await stores.at(url);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).transaction(async (tx) => {
          await tx.execute('INSERT INTO items (id, label) VALUES ($1, $2)', [i, `i${i}`]);
          await new Promise((resolve) => setImmediate(resolve));
        }),
      ),
    );
    expect(await labels(a)).toHaveLength(20);
  });

  it('an in-memory store is private to its instance', async () => {
    const a = await stores.at('sqlite::memory:');
    const b = await stores.at('sqlite::memory:');
    await createItems(a);
    expect(await labels(a)).toEqual([]);
    expect((await rejectionOf(b.query('SELECT * FROM items'))).code).toBe('store_failed');
  });
});
