import { Command } from 'commander';
import { openStore } from '../../store/index.js';
import { createOutput } from '../output.js';
import { storeOption } from '../store-option.js';

export function statusCommand(): Command {
  return new Command('status')
    .description("show the store's status")
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { store: string; json?: boolean }) => {
      const store = await openStore(opts.store, { migrate: false });
      try {
        const status = await store.status();
        createOutput(opts.json === true).result({ store: status }, () =>
          [
            `store: ${status.dialect} ${status.location}`,
            `schema version: ${status.version} of ${status.latest}` +
              (status.pending.length > 0
                ? ` (pending: ${status.pending.join(', ')}; run garrison migrate)`
                : ''),
          ].join('\n'),
        );
      } finally {
        await store.close();
      }
    });
}
