/**
 * The package as users get it: built and packed once (`npm pack`, whose `prepack` builds dist/), the
 * tarball installed offline into an empty project, and then what a user does with it — type-check a
 * typed application against the published types with `skipLibCheck: false`, run `garrison worker
 * --app app.mjs` from the installed bin while another process starts a workflow through the library and
 * sees it complete, run `garrison demo`, and follow `docs/guide.md`'s "Your first application" command
 * by command (`guide-commands.ts` reads them from the guide). Importing the root must load no server
 * code (hono, the API). Figures (size, files, exported names) are printed for the record.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { repositoryRoot, scratchFolder, spawnScript, type Child } from '../support/child.js';
import { guideCommands, type GuideCommand } from './guide-commands.js';

const TIMEOUT = 900_000;
const NPM_CLI = join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const TSC = join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const EXAMPLE = join(repositoryRoot, 'examples', 'hello');
const SUBPATHS = [
  'agents',
  'api',
  'client',
  'coordination',
  'governance',
  'messaging',
  'node',
  'registry',
  'resilience',
  'runtime',
  'scheduler',
  'store',
  'telemetry',
  'testing',
  'work',
];

/** Runs npm (the one that came with this node) and answers its stdout; a failure shows its stderr. */
function npm(args: readonly string[], cwd: string): string {
  return execFileSync(process.execPath, [NPM_CLI, ...args], {
    cwd,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** This environment without vitest's loader options or a store of its own. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.GARRISON_STORE;
  return env;
}

function node(args: readonly string[], cwd: string): string {
  return execFileSync(process.execPath, args, {
    cwd,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The project's package.json and a lockfile: the tarball, and every package this repository's lockfile
 * installs for production (its layout under node_modules is the one the package's dependencies need).
 */
function writeProject(project: string, tarball: string, integrity: string): void {
  const ours = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
    license: string;
  };
  const lock = JSON.parse(readFileSync(join(repositoryRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  const packages: Record<string, unknown> = {
    '': { name: 'first-app', dependencies: { garrison: tarball } },
    'node_modules/garrison': {
      version: ours.version,
      resolved: tarball,
      integrity,
      license: ours.license,
      dependencies: ours.dependencies,
      bin: ours.bin,
      engines: ours.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages))
    if (path.startsWith('node_modules/') && entry.dev !== true && entry.devOptional !== true)
      packages[path] = entry;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'first-app', private: true, type: 'module', dependencies: { garrison: tarball } }),
  );
  writeFileSync(
    join(project, 'package-lock.json'),
    JSON.stringify({ name: 'first-app', lockfileVersion: 3, requires: true, packages }),
  );
}

/** A typed application using the root and every subpath: compiled with skipLibCheck false. */
function typedApp(subpaths: readonly string[]): string {
  return [
    "import { z } from 'zod';",
    "import { defineAction, defineAgent, defineApp, defineQueue, defineWorkflow, isGarrisonError, openStore, startApp, startNode, type ClaimedTask, type GarrisonNode } from 'garrison';",
    ...subpaths.map((s, i) => `import * as sub${i} from 'garrison/${s}';`),
    `export const subpaths: unknown[] = [${subpaths.map((_, i) => `sub${i}`).join(', ')}];`,
    "const greeter = defineAgent({ type: 't.greeter', capabilities: ['greet'], state: z.object({ n: z.number() }), initialState: { n: 0 },",
    "  actions: [defineAction({ name: 'hello', input: z.object({ name: z.string() }), output: z.string(), run: (_c, i) => `hello ${i.name}` })] });",
    "const greet = defineWorkflow('t.greet', async (ctx, input: { name: string }) => ctx.dispatch<string>('greet', 'hello', input));",
    "const mail = defineQueue({ name: 't.mail', schema: z.object({ to: z.string() }) });",
    'export default defineApp({ workflows: [greet], agents: [{ definition: greeter, count: 1 }],',
    '  queues: [{ queue: mail, handler: (task: ClaimedTask<{ to: string }>) => task.payload.to.length }],',
    "  schedules: [{ name: 'daily', cron: '0 0 * * *', workflow: greet, input: { name: 'x' } }], config: { drainTimeoutMs: 1000 } });",
    'export async function main(): Promise<string> {',
    "  const store = await openStore('sqlite::memory:');",
    '  const node: GarrisonNode = await startNode({ store, workflows: [greet], agents: [greeter] });',
    "  const out: string = await (await node.workflows.start(greet, { name: 'a' })).result();",
    '  await node.stop();',
    "  try { await startApp(defineApp({}), { store }); } catch (e) { if (isGarrisonError(e, 'invalid_input')) return e.code; }",
    '  return out;',
    '}',
    '',
  ].join('\n');
}

const LONG_RUNNING = new Set(['dev', 'worker', 'serve']);
/** What a long-running command prints once it is up. */
const UP = /SIGTERM drains and stops\n|API and dashboard at http\S+\n/;

/**
 * Runs the guide's commands in `project` block by block: `npx garrison` as the installed bin (what npx
 * runs), `node` as this node. Nodes and `garrison dev` are started and waited for; every other command
 * must exit 0 and print what the guide says it prints. A block that starts nodes but no client of its
 * own is then given one (`node start.mjs`), which must get its answer from them; last, every node gets
 * SIGTERM and must drain and exit 0. Differences from typing the guide: ports are 0 (chosen by the
 * system, as a shared machine may have 7070 taken) and `postgres://…/db?schema=app` is this run's
 * PostgreSQL server with a fresh schema.
 */
async function followGuide(project: string, bin: string): Promise<string[]> {
  const postgres = `${inject('databaseUrl')}?schema=guide_${process.pid}_${Date.now()}`;
  const ran: string[] = [];
  for (const block of guideCommands(join(repositoryRoot, 'docs', 'guide.md'), 'Your first application')) {
    const nodes: Child[] = [];
    let store = 'sqlite:.garrison/garrison.db';
    let client = false;
    for (const command of block) {
      for (let copy = 1; copy <= command.times; copy++) {
        const argv = concrete(command, copy, postgres);
        const env = { ...command.env };
        const run = argv[0] === 'npx' && argv[1] === 'garrison' ? [bin, ...argv.slice(2)] : argv.slice(1);
        expect(['npx', 'node'], command.line).toContain(argv[0]);
        if (argv[0] === 'npx' && LONG_RUNNING.has(argv[2]!)) {
          if (argv[2] === 'dev') store = 'sqlite:.garrison/dev.db';
          const at = argv.indexOf('--store');
          if (at > 0) store = argv[at + 1]!;
          const withPort = argv[2] === 'worker' || argv.includes('--port') ? run : [...run, '--port', '0'];
          const started = spawnScript(withPort[0]!, withPort.slice(1), { cwd: project, env });
          nodes.push(started);
          await started.waitFor(UP, 'stderr', { timeoutMs: 120_000 });
        } else {
          client ||= argv[1] === 'start.mjs';
          const done = await spawnScript(run[0]!, run.slice(1), { cwd: project, env }).exited;
          expect(done.code, `${command.line}\n${done.stderr}`).toBe(0);
          if (command.prints !== undefined) expect(done.stdout.trim(), command.line).toBe(command.prints);
        }
        ran.push(argv.join(' '));
      }
    }
    if (nodes.length > 0 && !client) {
      const asked = await spawnScript(join(project, 'start.mjs'), ['grace'], {
        cwd: project,
        env: { GARRISON_STORE: store },
      }).exited;
      expect(asked.code, asked.stderr).toBe(0);
      expect(asked.stdout).toBe('HELLO GRACE\n');
    }
    for (const started of nodes.reverse()) started.signal('SIGTERM');
    for (const started of nodes) {
      const stopped = await started.exited;
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/drained/);
    }
  }
  return ran;
}

/** The command with the guide's placeholders filled in. */
function concrete(command: GuideCommand, copy: number, postgres: string): string[] {
  return command.argv.map((word, i) => {
    if (word === 'postgres://…/db?schema=app') return postgres;
    if (command.argv[i - 1] === '--port') return '0';
    if (command.times > 1 && command.argv[i - 1] === '--name') return word.replace(/-\d+$/, `-${copy}`);
    return word;
  });
}

describe('the packed package', () => {
  it(
    'installs offline, type-checks with skipLibCheck false, runs an app with the installed bin, runs the demo, follows the guide',
    async () => {
      const work = scratchFolder('garrison-pack-');
      const project = join(work, 'project');

      // One build: npm pack runs prepack (npm run build).
      const packed = JSON.parse(
        npm(['pack', '--json', '--pack-destination', work], repositoryRoot),
      ) as Array<{
        filename: string;
        integrity: string;
        size: number;
        unpackedSize: number;
        entryCount: number;
        files: Array<{ path: string }>;
      }>;
      const pack = packed[0]!;
      const files = pack.files.map((f) => f.path);
      expect(files).toContain('LICENSE');
      expect(files).toContain('dist/cli/main.js');
      expect(files).toContain('dist/index.d.ts');
      expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
      expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
      expect(readFileSync(join(repositoryRoot, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);

      // An empty project; the tarball installed from the npm cache only. Its lockfile pins the package's
      // dependencies to the versions of this repository's lockfile (whose tarballs `npm ci` put in the
      // cache), so nothing is asked of the registry. Install scripts are not run (offline, better-sqlite3
      // could not fetch its prebuilt binary): the binary built for this node is copied in.
      cpSync(EXAMPLE, project, { recursive: true });
      writeProject(project, `file:../${pack.filename}`, pack.integrity);
      npm(['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
      cpSync(
        join(repositoryRoot, 'node_modules', 'better-sqlite3', 'build'),
        join(project, 'node_modules', 'better-sqlite3', 'build'),
        { recursive: true },
      );
      const installed = join(project, 'node_modules', 'garrison');
      expect(existsSync(join(installed, 'src'))).toBe(false);
      expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);

      // The published types in a user's strict project, skipLibCheck false, only the declared dependencies.
      const present = SUBPATHS.filter((s) => existsSync(join(installed, 'dist', s, 'index.d.ts')));
      // hono's own declarations (behind garrison/api) need the DOM lib's event types: that subpath is
      // checked in a project with `lib: ["ES2023", "DOM"]`, everything else with ES2023 alone.
      const options = {
        strict: true,
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      };
      writeFileSync(join(project, 'typed.ts'), typedApp(present.filter((s) => s !== 'api')));
      writeFileSync(join(project, 'typed-api.ts'), typedApp(['api']));
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { ...options, lib: ['ES2023'] }, files: ['typed.ts'] }),
      );
      writeFileSync(
        join(project, 'tsconfig.api.json'),
        JSON.stringify({ compilerOptions: { ...options, lib: ['ES2023', 'DOM'] }, files: ['typed-api.ts'] }),
      );
      for (const config of ['tsconfig.json', 'tsconfig.api.json']) {
        let typeErrors = '';
        try {
          node([TSC, '-p', config], project);
        } catch (error) {
          typeErrors = String((error as { stdout?: string }).stdout ?? error);
        }
        expect(typeErrors, config).toBe('');
      }

      // Importing the root loads no server code (a resolve hook lists every module it loads).
      writeFileSync(
        join(project, 'record.mjs'),
        [
          "import { register } from 'node:module';",
          "register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write(`RESOLVED ${r.url}\\n`); return r; }'));",
        ].join('\n'),
      );
      const rootLoad = spawnSync(
        process.execPath,
        ['--import', './record.mjs', '--input-type=module', '-e', "await import('garrison')"],
        { cwd: project, encoding: 'utf8', env: cleanEnv() },
      );
      expect(rootLoad.status, rootLoad.stderr).toBe(0);
      const loaded = [...rootLoad.stderr.matchAll(/^RESOLVED (\S+)$/gm)].map((m) => m[1]!);
      expect(loaded).toContainEqual(expect.stringMatching(/\/node_modules\/garrison\/dist\/index\.js$/));
      const server = loaded.filter(
        (u) => /\/node_modules\/(hono|@hono|pg)\//.test(u) || /\/garrison\/dist\/(api|dashboard)\//.test(u),
      );
      expect(server).toEqual([]);
      // Names exported by the root and each subpath (values; types are not counted).
      writeFileSync(
        join(project, 'names.mjs'),
        [
          "const names = { '.': Object.keys(await import('garrison')).length };",
          `for (const s of ${JSON.stringify(present)}) names[s] = Object.keys(await import('garrison/' + s)).length;`,
          'console.log(JSON.stringify(names));',
        ].join('\n'),
      );
      const names = JSON.parse(node(['names.mjs'], project)) as Record<string, number>;
      expect(names['.']).toBeGreaterThan(10);
      // garrison/ai resolves through the exports map, types included; its optional peer `ai` is not
      // installed here, so it is resolved, not loaded.
      const aiEntry = node(
        ['--input-type=module', '-e', "console.log(import.meta.resolve('garrison/ai'))"],
        project,
      );
      expect(aiEntry.trim()).toMatch(/\/node_modules\/garrison\/dist\/ai\/index\.js$/);
      expect(existsSync(join(installed, 'dist', 'ai', 'index.d.ts'))).toBe(true);

      // The application on the installed bin (what npx runs), and a second process starting a workflow.
      const bin = join(project, 'node_modules', '.bin', 'garrison');
      const env = { GARRISON_STORE: 'sqlite:.garrison/garrison.db' };
      const worker = spawnScript(bin, ['worker', '--app', 'app.mjs', '--name', 'first-node'], {
        cwd: project,
        env,
      });
      await worker.waitFor(/SIGTERM drains and stops\n/, 'stderr', { timeoutMs: 120_000 });
      expect(worker.stderr()).toMatch(
        /app \S+app\.mjs 1\.0\.0: 1 workflow\(s\), 2 agent\(s\), 1 queue\(s\), 1 schedule\(s\)/,
      );
      const started = spawnScript(join(project, 'start.mjs'), ['ada'], { cwd: project, env });
      const result = await started.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('HELLO ADA\n');
      worker.signal('SIGTERM');
      const stopped = await worker.exited;
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/first-node: drained/);

      // A TypeScript app without tsx in the project: one line saying what to do.
      writeFileSync(join(project, 'app.ts'), typedApp([]));
      const noTsx = await spawnScript(bin, ['worker', '--app', 'app.ts'], { cwd: project, env }).exited;
      expect(noTsx.code).toBe(1);
      expect(noTsx.stderr).toMatch(/^garrison: cannot load \S+app\.ts: a TypeScript application needs tsx/m);
      expect(noTsx.stderr).not.toMatch(/^\s+at /m);

      // The demo, from the installed package.
      const demo = await spawnScript(bin, ['demo', '--workflows', '20'], { cwd: project }).exited;
      expect(demo.code, demo.stderr).toBe(0);
      expect(demo.stdout).toMatch(/20 workflows: 20 completed, 0 failed/);

      // The guide's first application, command by command.
      const ran = await followGuide(project, bin);
      expect(ran).toContainEqual(expect.stringMatching(/^npx garrison dev --app app\.mjs/));
      expect(
        ran.filter((c) => c.startsWith('npx garrison worker --app app.mjs --store postgres')),
      ).toHaveLength(3);

      // For the record.
      console.log(
        JSON.stringify({
          tarball: { size: pack.size, unpackedSize: pack.unpackedSize, files: pack.entryCount },
          exportedNames: names,
          modulesLoadedByRoot: loaded.length,
        }),
      );
    },
    TIMEOUT,
  );
});
