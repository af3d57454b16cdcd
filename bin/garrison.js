#!/usr/bin/env node
// Runs the built CLI (dist/, what the package ships). Only in a source checkout without a build does it
// fall back to the TypeScript sources through tsx, a development dependency.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else if (existsSync(source)) {
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch {
    process.stderr.write('garrison: no build in dist/ and no tsx to run the sources: run npm run build\n');
    process.exit(1);
  }
  api.register();
  await import(pathToFileURL(source).href);
} else {
  process.stderr.write(`garrison: the package is incomplete (no ${built}): reinstall it\n`);
  process.exit(1);
}
