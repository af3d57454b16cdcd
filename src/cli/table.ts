/** Plain-text tables for listings: columns padded to their widest cell, control characters made visible. */
import { visible } from './output.js';

/** One cell as text: `-` for nothing, JSON for objects; ESC, CR, LF … inside shown as escapes. */
export function cell(c: unknown): string {
  if (c === null || c === undefined) return '-';
  if (typeof c === 'string') return visible(c);
  if (typeof c === 'number' || typeof c === 'boolean' || typeof c === 'bigint') return String(c);
  return visible(JSON.stringify(c) ?? '-');
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** An ISO time for an epoch-ms value, or '-'. */
export function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}
