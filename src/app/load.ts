/**
 * Loads an application module (`--app <module>`): its default export, made with `defineApp`. A `.js` or
 * `.mjs` file always loads; a `.ts` file only when the application's own project has `tsx` installed
 * (resolved from the module's folder, so the package never depends on it) — otherwise one line says to
 * install it or build the application to JavaScript.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GarrisonError } from '../errors.js';
import { isApp, type GarrisonApp } from './define.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
const JAVASCRIPT = new Set(['.js', '.mjs', '.cjs']);

/** tsx registered once per process (a second registration would load every module twice). */
let tsxRegistered = false;

async function registerTsx(appPath: string): Promise<void> {
  if (tsxRegistered) return;
  let apiPath: string;
  try {
    apiPath = tsxEsmApi(appPath);
  } catch (error) {
    throw new GarrisonError(
      'app_load_failed',
      `cannot load ${appPath}: a TypeScript application needs tsx in its project (npm install --save-dev tsx), or build it to JavaScript and pass the .js file`,
      { cause: error },
    );
  }
  const api = (await import(pathToFileURL(apiPath).href)) as { register: () => unknown };
  api.register();
  tsxRegistered = true;
}

/**
 * The ES module entry of tsx's `tsx/esm/api`, as the project of `appPath` has it. `require.resolve` would
 * answer the CommonJS entry, which fails when imported; the package's exports map names the ES one.
 */
function tsxEsmApi(appPath: string): string {
  const manifest = createRequire(appPath).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    exports?: Record<string, { import?: { default?: string } | string }>;
  };
  const entry = exports?.['./esm/api']?.import;
  const file = typeof entry === 'string' ? entry : entry?.default;
  if (file === undefined) throw new Error(`tsx at ${dirname(manifest)} has no tsx/esm/api`);
  return join(dirname(manifest), file);
}

/** True when this process already runs TypeScript (the CLI run from its sources through tsx). */
const runsTypeScript = () => import.meta.url.endsWith('.ts');

/** Resolves an app path against `cwd`; answers the absolute path, or fails with `app_not_found`. */
export function resolveAppPath(path: string, cwd: string = process.cwd()): string {
  const absolute = resolve(cwd, path);
  if (!existsSync(absolute))
    throw new GarrisonError('app_not_found', `no application module at ${absolute}`, {
      details: { path: absolute },
    });
  return absolute;
}

/**
 * Imports the module at `path` (relative to `cwd`) and answers its default export, checked to be an
 * application. Fails with `app_not_found`, `app_load_failed` (the module threw, or a `.ts` file without
 * tsx) or `invalid_app` (no default export made with `defineApp`).
 */
export async function loadApp(path: string, cwd: string = process.cwd()): Promise<GarrisonApp> {
  const absolute = resolveAppPath(path, cwd);
  const ext = extname(absolute);
  if (TYPESCRIPT.has(ext)) {
    if (!runsTypeScript()) await registerTsx(absolute);
  } else if (!JAVASCRIPT.has(ext)) {
    throw new GarrisonError(
      'app_load_failed',
      `cannot load ${absolute}: an application module is a .js, .mjs or .ts file`,
    );
  }
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new GarrisonError('app_load_failed', `cannot load ${absolute}: ${reason}`, { cause: error });
  }
  if (!isApp(loaded.default))
    throw new GarrisonError(
      'invalid_app',
      `${absolute} has no application as its default export (export default defineApp({ ... }))`,
      { details: { path: absolute } },
    );
  return loaded.default;
}
