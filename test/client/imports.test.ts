/**
 * `garrison/client` loads no server code: walking the import graph of `src/client/index.ts` (static and
 * dynamic imports, type-only imports left out since they vanish at build) reaches no HTTP API, no node,
 * no supervision tree, no command line, and never hono.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', '..', 'src');

interface Graph {
  /** Source files reached, relative to src/. */
  readonly files: Set<string>;
  /** Packages imported by name. */
  readonly packages: Set<string>;
}

function walk(entry: string): Graph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [join(src, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    const rel = relative(src, file).split(sep).join('/');
    if (files.has(rel)) continue;
    files.add(rel);
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
    const specifiers = [
      // `import … from`, `export … from`, but not `import type` / `export type`.
      ...[...code.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...code.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...code.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]),
    ];
    for (const spec of specifiers) {
      if (spec === undefined) continue;
      if (!spec.startsWith('.')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        continue;
      }
      const target = join(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!existsSync(target)) throw new Error(`${rel} imports ${spec}, which does not exist`);
      todo.push(target);
    }
  }
  return { files, packages };
}

const SERVER = /^(api|node|cli|coordination|dashboard|agents)\//;

describe('the client entry point', () => {
  it('reaches no server module and no hono', () => {
    const graph = walk('client/index.ts');
    expect([...graph.files].filter((f) => SERVER.test(f))).toEqual([]);
    expect([...graph.packages].filter((p) => p === 'hono' || p.startsWith('@hono/'))).toEqual([]);
    // What it does need is there: the walk follows imports.
    expect(graph.files).toContain('work/workflow/start-batch.ts');
    expect(graph.files).toContain('store/open.ts');
    expect(graph.packages).toContain('zod');
  });

  it('the walk finds server code where there is some', () => {
    const graph = walk('api/app.ts');
    expect(graph.packages).toContain('hono');
    expect([...walk('node/node.ts').files].some((f) => f.startsWith('coordination/'))).toBe(true);
  });
});
