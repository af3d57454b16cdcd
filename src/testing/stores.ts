import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenStoreOptions, type Store } from '../store/index.js';

/** A store on a fresh SQLite file in a temporary folder; closing it deletes the folder. */
export async function createTemporaryStore(options: OpenStoreOptions = {}): Promise<Store> {
  const folder = mkdtempSync(join(tmpdir(), 'garrison-'));
  const store = await openStore(`sqlite:${join(folder, 'garrison.db')}`, options);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    rmSync(folder, { recursive: true, force: true });
  };
  return store;
}

/** A private in-memory SQLite store: nothing touches the disk; gone when closed. */
export function createMemoryStore(options: OpenStoreOptions = {}): Promise<Store> {
  return openStore('sqlite::memory:', options);
}
