/** Plain-text tables for listings: columns padded to their widest cell. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) =>
    r.map((c) =>
      c === null || c === undefined ? '-' : typeof c === 'object' ? JSON.stringify(c) : String(c as string),
    ),
  );
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
