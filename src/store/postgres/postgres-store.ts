// Placeholder until the adapter lands: the options the opener passes.
import type { Store } from '../types.js';
export interface PostgresStoreOptions {
  readonly connectionString: string;
  readonly redacted: string;
  readonly schema: string;
  readonly poolSize?: number;
  readonly migrate?: boolean;
  readonly maxBatch?: number;
  readonly now?: () => number;
}
export const PostgresStore = {
  open(_options: PostgresStoreOptions): Promise<Store> {
    return Promise.reject(new Error('not yet'));
  },
};
