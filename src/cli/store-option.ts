import { Option } from 'commander';
import { GarrisonError } from '../errors.js';
import { DEFAULT_STORE_URL, isStoreError, openStore, type Store } from '../store/index.js';

/** `--store URL`, shared by every command that opens the store. `GARRISON_STORE` sets the default. */
export function storeOption(): Option {
  return new Option('--store <url>', 'store URL: sqlite:<path> or postgres://…')
    .env('GARRISON_STORE')
    .default(DEFAULT_STORE_URL);
}

/**
 * Opens a store that must already exist: the inspection and admin commands never create one (a mistyped
 * path would otherwise leave folders and a migrated database behind). Only `migrate`, `worker`, `serve`
 * and `demo` create stores. `migrate` says whether pending migrations are applied (default true).
 */
export async function openExistingStore(url: string, options: { migrate?: boolean } = {}): Promise<Store> {
  try {
    return await openStore(url, { create: false, migrate: options.migrate ?? true });
  } catch (error) {
    if (!isStoreError(error, 'store_not_found')) throw error;
    throw new GarrisonError(
      'store_not_found',
      `${error.message}; garrison migrate --store <url> creates one`,
      { cause: error },
    );
  }
}
