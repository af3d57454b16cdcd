import { Command } from 'commander';
import { openStore } from '../../store/index.js';
import { createOutput } from '../output.js';
import { storeOption } from '../store-option.js';

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('apply pending migrations to the store and print its status')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { store: string; json?: boolean }) => {
      const store = await openStore(opts.store, { migrate: false });
      try {
        const report = await store.migrate();
        const status = await store.status();
        createOutput(opts.json === true).result({ applied: report.applied, status }, () =>
          [
            report.applied.length === 0
              ? 'The store is up to date.'
              : `Applied ${report.applied.length} migration(s): ${report.applied.map((m) => `${m.id} ${m.name}`).join(', ')}.`,
            `store: ${status.dialect} ${status.location}`,
            `schema version: ${status.version} of ${status.latest}`,
          ].join('\n'),
        );
      } finally {
        await store.close();
      }
    });
}
