import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// src/cli/ and dist/cli/ both sit two levels below the package root.
const packageJson = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');

export const version: string = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
