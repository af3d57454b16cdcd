/**
 * The command line's security findings, as real processes: serve refuses a bad host/token (and every
 * other bad option) before the store is opened; read-only commands never create a store; store URLs are
 * printed without their user-info; control characters from the store reach the terminal as visible
 * escapes; tokens come from files (admin and read-only), never from the process list; allowed host names.
 */
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openStore } from '../../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../../src/work/workflow/index.js';
import { adapters, postgresAdapter, sqliteAdapter, type TestAdapter } from '../support/stores.js';
import { startRuns, withStore } from './seed.js';
import { expectOk, garrison, json, start, tableRows, type Exit } from './spawn.js';

const TIMEOUT = 120_000;

/**
 * A refusal of a command: exit code 1, nothing on stdout, no stack trace, exactly one `garrison:` line
 * on stderr and it matches `message` (a long-running command may say it is starting first).
 */
function expectOneLineRefusal(exit: Exit, message: RegExp): void {
  expect(exit.code, exit.stderr).toBe(1);
  expect(exit.stdout).toBe('');
  expect(exit.stderr).not.toMatch(/^\s+at /m);
  const lines = exit.stderr.split('\n').filter((l) => l.startsWith('garrison:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'garrison-sec-'));
}

/** A random token of 43 characters (256 bits) written to a file; returns both. */
function tokenFile(dir: string, name: string): { token: string; file: string } {
  const token = randomBytes(32).toString('base64url');
  const file = join(dir, name);
  writeFileSync(file, `\n  ${token}\n`);
  return { token, file };
}

/** What a refused node command must leave as it was: the runs and the nodes table. */
function runsAndNodes(url: string): Promise<{ runs: unknown[]; nodes: unknown[] }> {
  return withStore(url, async (store) => ({
    runs: await store.query('SELECT id, status, owner FROM garrison_workflow_runs ORDER BY id'),
    nodes: await store.query('SELECT id FROM garrison_nodes ORDER BY id'),
  }));
}

/** The schema named by a postgres test URL exists on the server. */
async function schemaExists(url: string): Promise<boolean> {
  const schema = new URL(url).searchParams.get('schema');
  return withStore(postgresAdapter.freshUrl(), async (store) => {
    const rows = await store.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
    return rows.length > 0;
  });
}

/** Control characters a terminal acts on: C0 but the line feed, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const escapeFlow = defineWorkflow('test.escape', async () => 'done');

describe.each(adapters)('garrison security findings on $name', (adapter: TestAdapter) => {
  it(
    'serve --host 0.0.0.0 without a token, and every other bad serve or worker option, is refused before the store is opened: the pending run stays pending, no node row is written',
    async () => {
      const url = adapter.freshUrl();
      await withStore(url, (store) => startRuns(store, { greeting: false, orders: 1 }));
      const before = await runsAndNodes(url);
      expect(before).toEqual({ runs: [{ id: 'o-1', status: 'pending', owner: null }], nodes: [] });
      const dir = tempDir();
      const short = join(dir, 'short.token');
      writeFileSync(short, 'tooshort\n');
      const empty = join(dir, 'empty.token');
      writeFileSync(empty, ' \n');
      const badConfig = join(dir, 'bad.json');
      writeFileSync(badConfig, JSON.stringify({ heartbeatMs: 1 }));
      const noTokenConfig = join(dir, 'api.json');
      writeFileSync(noTokenConfig, JSON.stringify({ api: { tokenFile: 'missing.token' } }));
      const at = ['--store', url, '--port', '0'];
      const env = { GARRISON_TOKEN: '' };
      // Each refusal with the line it must print; the cheap ones run on SQLite only.
      const cases: Array<[string[], RegExp, boolean]> = [
        [
          ['serve', ...at, '--host', '0.0.0.0'],
          /^garrison: listening on 0\.0\.0\.0 needs a token: give --token-file <path> .*\[invalid_input\]$/,
          true,
        ],
        [
          ['worker', '--store', url, '--config', badConfig],
          /^garrison: invalid node configuration: heartbeatMs/,
          true,
        ],
        [
          ['serve', ...at, '--host', '0.0.0.0', '--token-file', short],
          /^garrison: the token in .*short\.token is too short: at least 22/,
          false,
        ],
        [
          ['serve', ...at, '--token-file', empty],
          /^garrison: the token file .*empty\.token is empty \[invalid_input\]$/,
          false,
        ],
        [
          ['serve', ...at, '--read-token-file', join(dir, 'none.token')],
          /^garrison: cannot read the read token file .*none\.token \(ENOENT\)/,
          false,
        ],
        [
          ['serve', ...at, '--token', 'x'.repeat(30), '--token-file', short],
          /^garrison: give --token or --token-file, not both/,
          false,
        ],
        [
          ['serve', ...at, '--config', badConfig],
          /^garrison: invalid node configuration: heartbeatMs/,
          false,
        ],
        [
          ['serve', ...at, '--config', noTokenConfig],
          /^garrison: cannot read the token file .*missing\.token \(ENOENT\)/,
          false,
        ],
        [['serve', ...at, '--name', 'not a name'], /^garrison: invalid node configuration: nodeName/, false],
        [
          ['serve', ...at, '--allowed-host', 'https://example.com'],
          /^garrison: the allowed host "https:\/\/example\.com" is not a host name/,
          false,
        ],
      ];
      const run = cases.filter(([, , both]) => both || adapter.name === 'sqlite');
      const exits = await Promise.all(run.map(([args]) => garrison(args, { env })));
      exits.forEach((exit, i) => expectOneLineRefusal(exit, run[i]?.[1] ?? /^$/));
      expect(await runsAndNodes(url)).toEqual(before);
    },
    TIMEOUT,
  );

  it(
    'read-only commands on a store that does not exist say so in one line, exit 1 and create nothing',
    async () => {
      const dir = tempDir();
      const missing =
        adapter.name === 'sqlite'
          ? `sqlite:${join(dir, 'typo', 'deeper', 'garrison.db')}`
          : adapter.freshUrl();
      const at = ['--store', missing];
      const commands = [
        ['status'],
        ['agents'],
        ['workflows', 'list'],
        ['tasks'],
        ['timers'],
        ['dlq', 'list'],
        ['tasks', 'cancel', '1'],
      ];
      const exits = await Promise.all(commands.map((c) => garrison([...c, ...at])));
      for (const exit of exits)
        expectOneLineRefusal(
          exit,
          /^garrison: there is no store at .*; garrison migrate --store <url> creates one \[store_not_found\]$/,
        );
      if (adapter.name === 'sqlite') {
        expect(existsSync(join(dir, 'typo'))).toBe(false);
        // A folder that cannot be made (Node's recursive mkdir never returned here): one line, at once.
        const [status, migrate] = await Promise.all([
          garrison(['status', '--store', 'sqlite:/proc/x/y.db'], { killAfterMs: 60_000 }),
          garrison(['migrate', '--store', 'sqlite:/proc/x/y.db'], { killAfterMs: 60_000 }),
        ]);
        expectOneLineRefusal(
          status,
          /^garrison: there is no store at \/proc\/x\/y\.db \(no folder \/proc\/x\);/,
        );
        expectOneLineRefusal(
          migrate,
          /^garrison: cannot create the folder \/proc\/x for the database \[store_read_only\]$/,
        );
      } else {
        expect(await schemaExists(missing)).toBe(false);
      }

      // migrate is the command that creates it; then the same listing works.
      expectOk(await garrison(['migrate', ...at]));
      const list = await garrison(['workflows', 'list', ...at, '--json']);
      expectOk(list);
      expect(json(list)).toEqual({ workflows: [] });
    },
    TIMEOUT,
  );

  it(
    'workflows list shows a run id with terminal escapes as visible escapes; --json keeps the id exact and raw control characters out',
    async () => {
      const url = adapter.freshUrl();
      // Sets the window title, clears the screen, returns the cursor and fakes a line; C1 CSI and DEL too.
      const evil = 'x\u001b]0;pwned\u0007\u001b[2J\r\nfake-line\t\u009b31m\u007f';
      await withStore(url, async (store) => {
        const engine = createWorkflowEngine({ store, nodeId: 'seed', autoExecute: false });
        engine.register(escapeFlow);
        try {
          await engine.start(escapeFlow, undefined, { workflowId: evil });
        } finally {
          await engine.stop();
        }
      });
      const [text, shown, asJson] = await Promise.all([
        garrison(['workflows', 'list', '--store', url]),
        garrison(['workflows', 'show', evil, '--store', url]),
        garrison(['workflows', 'list', '--store', url, '--json']),
      ]);
      const visible = 'x\\x1b]0;pwned\\x07\\x1b[2J\\r\\nfake-line\\t\\x9b31m\\x7f';
      for (const exit of [text, shown, asJson]) {
        expectOk(exit);
        expect(exit.stdout).not.toMatch(RAW_CONTROL);
      }
      const rows = tableRows(text.stdout);
      expect(rows).toHaveLength(2);
      expect(rows[1]?.[0]).toBe(visible);
      expect(shown.stdout.split('\n')[0]).toBe(`${visible}  test.escape  pending`);
      expect(asJson.stdout.trim().split('\n')).toHaveLength(1);
      expect(json<{ workflows: Array<{ id: string }> }>(asJson).workflows.map((w) => w.id)).toEqual([evil]);
    },
    TIMEOUT,
  );
});

describe('store URLs in errors', () => {
  it(
    'no part of a password is printed: a / or an @ in it, an unparseable URL, ?password=, the library too',
    async () => {
      const urls = [
        'postgres://u:s3cr/etpw@127.0.0.1:1/db',
        'postgres://u:s3cr@etpw@127.0.0.1:1/db?schema=BAD',
        'postgres://u:s3cr@etpw@127.0.0.1:1/db',
        'postgres://u:s3cr#etpw@127.0.0.1:1/db',
        'postgres://127.0.0.1:1/db?password=s3cr-etpw&schema=Bad',
      ];
      const exits = await Promise.all(urls.map((u) => garrison(['status', '--store', u])));
      for (const exit of exits) {
        expectOneLineRefusal(exit, /^garrison: .*\[store_(url_invalid|unreachable)\]$/);
        expect(exit.stderr).not.toMatch(/s3cr|etpw/);
      }
      expect(exits[0]?.stderr).toContain('postgres://***@127.0.0.1:1/db');
      expect(exits[1]?.stderr).toContain('postgres://***@127.0.0.1:1/db?schema=BAD');
      for (const url of urls) {
        const error = await openStore(url, { connectTimeoutMs: 1000 }).then(
          (s) => s.close().then(() => undefined),
          (e: unknown) => e as Error,
        );
        expect(error).toBeInstanceOf(Error);
        expect(error?.message).not.toMatch(/s3cr|etpw/);
      }
    },
    TIMEOUT,
  );
});

describe('serve tokens and host names', () => {
  it(
    'tokens from files (flags or the configuration file): admin may do all, read only GETs, none is 401; the token is not in the process list; allowed host names',
    async () => {
      const url = sqliteAdapter.freshUrl();
      await withStore(url, async () => undefined);
      const dir = tempDir();
      const admin = tokenFile(dir, 'admin.token');
      const read = tokenFile(dir, 'read.token');
      const config = join(dir, 'garrison.json');
      writeFileSync(
        config,
        JSON.stringify({
          api: { tokenFile: 'admin.token', readTokenFile: 'read.token', allowedHosts: ['garrison.test'] },
        }),
      );
      const env = { GARRISON_TOKEN: '' };
      const byFlags = start(
        [
          'serve',
          ...['--store', url, '--port', '0', '--name', 'tok-flags'],
          ...['--token-file', admin.file, '--read-token-file', read.file, '--allowed-host', 'garrison.test'],
        ],
        { env, killAfterMs: 100_000 },
      );
      const byConfig = start(
        ['serve', '--store', url, '--port', '0', '--name', 'tok-config', '--config', config],
        { env, killAfterMs: 100_000 },
      );
      try {
        for (const serve of [byFlags, byConfig]) {
          const [, base] = await serve.waitFor(/API and dashboard at (http:\/\/127\.0\.0\.1:\d+)\n/);
          const pid = serve.child.pid ?? 0;
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          expect(cmdline).toContain('serve');
          expect(cmdline).not.toContain(admin.token);
          expect(cmdline).not.toContain(read.token);

          const get = (token?: string) =>
            fetch(
              `${base}/v1/workflows`,
              token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
            );
          const post = (token: string) =>
            fetch(`${base}/v1/tasks/999999/cancel`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: '{}',
            });
          expect((await get()).status).toBe(401);
          expect((await get(read.token)).status).toBe(200);
          expect((await get(admin.token)).status).toBe(200);
          expect((await post(read.token)).status).toBe(403);
          expect([401, 403]).not.toContain((await post(admin.token)).status);
          expect(await statusFor(base ?? '', 'garrison.test')).toBe(200);
          expect(await statusFor(base ?? '', 'evil.test')).toBe(421);
        }
      } finally {
        byFlags.child.kill('SIGTERM');
        byConfig.child.kill('SIGTERM');
      }
      expectOk(await byFlags.exited);
      expectOk(await byConfig.exited);
    },
    TIMEOUT,
  );
});

/** The status of GET /healthz sent with `Host: <host>` (fetch does not let a caller set Host). */
function statusFor(base: string, host: string): Promise<number | undefined> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: '/healthz', headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}
