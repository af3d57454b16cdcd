import { Option } from 'commander';
import { DEFAULT_STORE_URL } from '../store/index.js';

/** `--store URL`, shared by every command that opens the store. `GARRISON_STORE` sets the default. */
export function storeOption(): Option {
  return new Option('--store <url>', 'store URL: sqlite:<path> or postgres://…')
    .env('GARRISON_STORE')
    .default(DEFAULT_STORE_URL);
}
