/**
 * Structural guarantees checked on the source itself: timers are made only by the scheduler and the
 * clock (seed flaw 5), and layers import only the layers below them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(src).map((path) => ({
  path: relative(src, path).split(sep).join('/'),
  // Comments may mention timers; only code counts.
  code: readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1'),
}));

const makesTimer = (code: string) => /\b(setTimeout|setInterval)\s*\(/.test(code);

/** Each layer and the layers it may import from (besides itself and `src/errors.ts`). */
const allowed: Record<string, string[]> = {
  store: [],
  runtime: ['store'],
  telemetry: ['runtime'],
  scheduler: ['store', 'runtime', 'telemetry'],
  registry: ['store', 'runtime', 'scheduler', 'telemetry'],
  resilience: ['store', 'runtime', 'scheduler', 'telemetry'],
  governance: ['store', 'runtime', 'scheduler', 'registry', 'resilience', 'telemetry'],
  messaging: ['store', 'runtime', 'scheduler', 'registry', 'resilience', 'governance', 'telemetry'],
  work: ['store', 'runtime', 'scheduler', 'registry', 'resilience', 'governance', 'messaging', 'telemetry'],
  coordination: [
    'store',
    'runtime',
    'scheduler',
    'registry',
    'resilience',
    'governance',
    'messaging',
    'work',
    'telemetry',
  ],
  agents: [
    'store',
    'governance',
    'runtime',
    'scheduler',
    'registry',
    'resilience',
    'messaging',
    'work',
    'coordination',
    'telemetry',
  ],
  // A client runs in a process with no node: it writes and watches the store, nothing more.
  client: [
    'store',
    'runtime',
    'scheduler',
    'registry',
    'resilience',
    'governance',
    'messaging',
    'work',
    'telemetry',
  ],
};

// An application is what a node runs; it never reaches into the interfaces that serve it.
allowed.app = [...allowed.agents!, 'agents', 'node'];
// The AI loop runs inside workflows and hands calls to agents; it serves no interface of its own.
allowed.ai = [...allowed.agents!, 'agents'];

describe('architecture', () => {
  it('no code outside the scheduler and the clock creates a timer', () => {
    const offenders = files
      // The dashboard page's script runs in the browser, not in the node.
      .filter(
        (f) =>
          !f.path.startsWith('scheduler/') && f.path !== 'runtime/clock.ts' && f.path !== 'dashboard/page.ts',
      )
      .filter((f) => makesTimer(f.code))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it('the timer check itself catches a timer in a layer', () => {
    expect(makesTimer('export function f() { setTimeout(() => 1, 10); }')).toBe(true);
    expect(makesTimer('const t = globalThis.setInterval (tick, 5);')).toBe(true);
    expect(makesTimer('clock.setTimer(10, fn);')).toBe(false);
  });

  it('layers import only from the layers below them', () => {
    const violations: string[] = [];
    for (const f of files) {
      const layer = f.path.split('/')[0] ?? '';
      const permitted = allowed[layer];
      if (permitted === undefined) continue; // node, api, cli, dashboard, testing may use any layer
      for (const m of f.code.matchAll(/from\s+'(\.\.?\/[^']+)'/g)) {
        const target = join(src, f.path, '..', m[1] ?? '');
        const targetPath = relative(src, target).split(sep).join('/');
        const targetLayer = targetPath.includes('/')
          ? targetPath.split('/')[0]
          : targetPath.replace(/\.js$/, '');
        if (targetLayer === layer || targetLayer === 'errors') continue;
        if (targetLayer !== undefined && !permitted.includes(targetLayer)) {
          violations.push(`${f.path} imports ${targetPath}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
