/**
 * Versioned migrations: numbered plain SQL files per dialect (`migrations/<dialect>/0001_name.sql`),
 * applied in one transaction that records each migration before running it, so two processes starting
 * together cannot both apply it; a database newer than the code is refused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError, StoreErrorCode } from './errors.js';
import type { Dialect, MigrationInfo, MigrationReport, Tx } from './types.js';

export interface Migration extends MigrationInfo {
  readonly sql: string;
}

// src/store/ and dist/store/ both sit two levels below the package root.
const migrationsRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

const cache = new Map<Dialect, Migration[]>();

/** The migrations this code knows for `dialect`, in order. Numbering must be 1, 2, 3, … without gaps. */
export function loadMigrations(dialect: Dialect): Migration[] {
  const known = cache.get(dialect);
  if (known !== undefined) return known;
  const folder = join(migrationsRoot, dialect);
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const migrations = files.map((file, index): Migration => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (match === null) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
    const id = Number(match[1]);
    if (id !== index + 1) throw new Error(`migration ${file} breaks the numbering: expected ${index + 1}`);
    return { id, name: match[2] ?? file, sql: readFileSync(join(folder, file), 'utf8') };
  });
  cache.set(dialect, migrations);
  return migrations;
}

export function latestMigration(dialect: Dialect): number {
  return loadMigrations(dialect).at(-1)?.id ?? 0;
}

const createTable = `CREATE TABLE IF NOT EXISTS garrison_migrations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/** The highest applied migration id, or 0 when the migrations table does not exist yet. */
export async function appliedVersion(tx: Pick<Tx, 'query'>, tableExists: boolean): Promise<number> {
  if (!tableExists) return 0;
  const rows = await tx.query<{ v: number | string | null }>('SELECT MAX(id) AS v FROM garrison_migrations');
  return Number(rows[0]?.v ?? 0);
}

export function schemaTooNew(dbVersion: number, latest: number, location: string): StoreError {
  return new StoreError(
    StoreErrorCode.schemaTooNew,
    `the database at ${location} is at migration ${dbVersion}, newer than this version of Garrison ` +
      `knows (${latest}); upgrade Garrison or use another database`,
    { details: { databaseVersion: dbVersion, codeVersion: latest } },
  );
}

/**
 * Applies pending migrations inside the caller's transaction. `runScript` runs a multi-statement SQL
 * script on the same connection.
 */
export async function applyPending(
  tx: Tx,
  runScript: (sql: string) => Promise<void>,
  location: string,
  now: number,
): Promise<MigrationReport> {
  const migrations = loadMigrations(tx.dialect);
  const latest = migrations.at(-1)?.id ?? 0;
  await tx.execute(createTable);
  const version = await appliedVersion(tx, true);
  if (version > latest) throw schemaTooNew(version, latest, location);
  const applied: MigrationInfo[] = [];
  for (const m of migrations) {
    if (m.id <= version) continue;
    // Recording first: a second migrator blocks on (or fails at) this row instead of re-running the SQL.
    await tx.execute('INSERT INTO garrison_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
      m.id,
      m.name,
      now,
    ]);
    await runScript(m.sql);
    applied.push({ id: m.id, name: m.name });
  }
  return { applied, version: Math.max(version, latest) };
}
