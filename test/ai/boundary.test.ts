import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../support/child.js';

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('garrison/ai stays optional', () => {
  it('no module outside src/ai imports the AI SDK or src/ai', () => {
    const src = join(repositoryRoot, 'src');
    const offenders = sources(src)
      .map((path) => relative(src, path).split(sep).join('/'))
      .filter((path) => !path.startsWith('ai/'))
      .filter((path) =>
        /from\s+'(ai|ai\/[^']*|@ai-sdk\/[^']*|(\.\.?\/)+ai(\/[^']*)?)'/.test(
          readFileSync(join(src, path), 'utf8'),
        ),
      );
    expect(offenders).toEqual([]);
  });

  it('the AI SDK is an optional peer dependency, not a dependency', () => {
    const pkg = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      exports: Record<string, unknown>;
    };
    expect(Object.keys(pkg.dependencies).filter((d) => d === 'ai' || d.startsWith('@ai-sdk/'))).toEqual([]);
    expect(pkg.peerDependencies?.ai).toMatch(/^\^7\./);
    expect(pkg.peerDependenciesMeta?.ai?.optional).toBe(true);
    expect(pkg.exports['./ai']).toEqual({ types: './dist/ai/index.d.ts', default: './dist/ai/index.js' });
  });
});
