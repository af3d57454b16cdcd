/**
 * `garrison locks`, `garrison leaders`, `garrison pools`: what the coordination primitives hold now, read
 * from the store one page at a time (no node needs to run).
 */
import { Command } from 'commander';
import { listLeaders, listLocks, listPools, type CoordinationPageOptions } from '../../coordination/index.js';
import { systemClock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { createOutput } from '../output.js';
import { parsePositiveInt } from '../parse.js';
import { withSession } from '../session.js';
import { storeOption } from '../store-option.js';
import { table, when } from '../table.js';

interface Options {
  readonly store: string;
  readonly json?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
}

/** One listing command: its rows as JSON under `key`, or a table and how to go on. */
function listing<T>(
  name: string,
  description: string,
  key: string,
  list: (
    store: Store,
    now: number,
    page: CoordinationPageOptions,
  ) => Promise<{ rows: T[]; nextCursor: string | null }>,
  render: (rows: T[]) => string,
): Command {
  return new Command(name)
    .description(description)
    .addOption(storeOption())
    .option('--limit <n>', `most ${name} shown (default 100, at most 1000)`, parsePositiveInt)
    .option('--cursor <cursor>', 'go on after the page that printed this cursor')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: Options) => {
      await withSession(opts.store, async ({ store }) => {
        const { rows, nextCursor } = await list(store, systemClock.now(), {
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
        });
        createOutput(opts.json === true).result({ [key]: rows, nextCursor }, () =>
          [
            render(rows),
            ...(nextCursor === null ? [] : [`more ${name}: run again with --cursor ${nextCursor}`]),
          ].join('\n'),
        );
      });
    });
}

export function locksCommand(): Command {
  return listing(
    'locks',
    'list the coordination locks held now (holder, fencing number, expiry), by name, one page at a time',
    'locks',
    async (store, now, page) => {
      const { locks, nextCursor } = await listLocks(store, now, page);
      return { rows: locks, nextCursor };
    },
    (locks) =>
      table(
        ['name', 'holder', 'fence', 'since', 'expires'],
        locks.map((l) => [l.name, l.holder, l.fence, when(l.acquiredAt), when(l.expiresAt)]),
      ),
  );
}

export function leadersCommand(): Command {
  return listing(
    'leaders',
    'list the groups with a leader now (leader, term, expiry), by group, one page at a time',
    'leaders',
    async (store, now, page) => {
      const { leaders, nextCursor } = await listLeaders(store, now, page);
      return { rows: leaders, nextCursor };
    },
    (leaders) =>
      table(
        ['group', 'leader', 'term', 'since', 'expires'],
        leaders.map((l) => [l.group, l.leader, l.term, when(l.since), when(l.expiresAt)]),
      ),
  );
}

export function poolsCommand(): Command {
  return listing(
    'pools',
    'list the resource pools with their items, holders and waiters, by name, one page at a time',
    'pools',
    async (store, now, page) => {
      const { pools, nextCursor } = await listPools(store, now, page);
      return { rows: pools, nextCursor };
    },
    (pools) =>
      pools.length === 0
        ? '(none)'
        : pools
            .map((p) =>
              [
                `pool ${p.name}: ${p.available} of ${p.size} available, ${p.waiters.length} waiting`,
                table(
                  ['item', 'holder', 'fence', 'expires'],
                  p.items.map((i) => [i.item, i.holder, i.fence, when(i.expiresAt)]),
                ),
                ...(p.waiters.length === 0
                  ? []
                  : [
                      table(
                        ['request', 'holder', 'since', 'deadline', 'granted'],
                        p.waiters.map((w) => [
                          w.requestId,
                          w.holder,
                          when(w.enqueuedAt),
                          when(w.deadlineAt),
                          w.granted,
                        ]),
                      ),
                    ]),
              ].join('\n'),
            )
            .join('\n\n'),
  );
}
