/**
 * A canonical dump of every registry table: each table's rows serialized as canonical JSON (keys sorted,
 * JSON columns parsed), sorted, and the whole hashed with SHA-256. Two dumps of the same adapter are
 * byte-identical exactly when the tables hold the same rows.
 */
import { createHash } from 'node:crypto';
import { parseJson, type Executor } from '../../../src/store/index.js';

/** The registry's tables as the database itself lists them, so a table added later is dumped too. */
export async function registryTables(exec: Executor): Promise<string[]> {
  const rows =
    exec.dialect === 'sqlite'
      ? await exec.query<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'garrison_agent%' ORDER BY name",
        )
      : await exec.query<{ name: string }>(
          'SELECT table_name AS name FROM information_schema.tables ' +
            "WHERE table_schema = current_schema() AND table_name LIKE 'garrison_agent%' ORDER BY table_name",
        );
  return rows.map((r) => r.name);
}

const JSON_COLUMNS = new Set(['capabilities', 'resources', 'metadata']);

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export interface RegistryDump {
  /** The serialized dump: `table\n<row>\n<row>…` per table. */
  readonly text: string;
  /** SHA-256 of `text`, hex. */
  readonly hash: string;
}

export async function dumpRegistry(exec: Executor): Promise<RegistryDump> {
  const parts: string[] = [];
  for (const table of await registryTables(exec)) {
    const rows = await exec.query(`SELECT * FROM ${table}`);
    const lines = rows
      .map((row) => {
        const normalized: Record<string, unknown> = {};
        for (const [column, value] of Object.entries(row)) {
          normalized[column] = JSON_COLUMNS.has(column) ? parseJson(value) : value;
        }
        return JSON.stringify(canonical(normalized));
      })
      .sort();
    parts.push(`${table}\n${lines.join('\n')}`);
  }
  const text = parts.join('\n\n');
  return { text, hash: createHash('sha256').update(text).digest('hex') };
}
