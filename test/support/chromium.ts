/**
 * The Chromium the browser tests drive. `CHROMIUM_PATH` wins; then a Chromium on the PATH (Debian's
 * `chromium`, `chromium-browser`, `google-chrome`); otherwise the binary that the `@sparticuz/chromium`
 * package ships, so `npm test` needs nothing installed by hand. `GARRISON_BUNDLED_CHROMIUM=1` skips the
 * system one on purpose, to try the fresh-machine path on a machine that has one.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome'];
/** Flags for a headless browser on a machine with no network beyond loopback. */
const COMMON_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/**
 * Flags of the bundled package left out: two loosen the browser's security for serverless pages (the
 * dashboard's tests need a browser that enforces same-origin and CSP as a user's does), and in
 * `--single-process` the whole browser goes down when a test closes its page.
 */
const DROPPED_FLAGS = new Set([
  '--disable-web-security',
  '--allow-running-insecure-content',
  '--single-process',
]);

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export interface ChromiumChoice {
  readonly executablePath: string;
  readonly args: readonly string[];
  /** Where it came from, for a failing test's message. */
  readonly source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

export async function findChromium(): Promise<ChromiumChoice> {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit !== undefined && explicit !== '')
    return { executablePath: explicit, args: COMMON_FLAGS, source: 'CHROMIUM_PATH' };
  if (process.env.GARRISON_BUNDLED_CHROMIUM !== '1') {
    for (const name of SYSTEM_NAMES) {
      const found = onPath(name);
      if (found !== undefined) return { executablePath: found, args: COMMON_FLAGS, source: 'system' };
    }
  }
  const { default: bundled } = await import('@sparticuz/chromium');
  const args = [...new Set([...bundled.args.filter((a) => !DROPPED_FLAGS.has(a)), ...COMMON_FLAGS])];
  return { executablePath: await bundled.executablePath(), args, source: '@sparticuz/chromium' };
}

/** Launches the chosen Chromium; a failure names which one could not start. */
export async function launchChromium(): Promise<Browser> {
  const choice = await findChromium();
  try {
    return await chromium.launch({ executablePath: choice.executablePath, args: [...choice.args] });
  } catch (error) {
    throw new Error(`cannot launch Chromium from ${choice.source} (${choice.executablePath})`, {
      cause: error,
    });
  }
}
