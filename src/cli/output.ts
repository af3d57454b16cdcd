/**
 * How commands print: human text by default, one JSON document with `--json`. Whatever the store holds
 * (ids, names, error messages) is written by someone else, so no control character of it reaches the
 * terminal raw: an escape sequence could retitle the window, clear the screen or fake lines.
 */
export interface Output {
  readonly json: boolean;
  /** Prints `value` as JSON, or `text()` for people (its control characters made visible, see `visible`). */
  result(value: unknown, text: () => string): void;
}

/** C0 controls, DEL and C1 controls: what a terminal may act on instead of showing. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: ReadonlyMap<string, string> = new Map([
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
]);

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');

/** `text` with every control character (ESC, CR, LF, tab, DEL, C1 …) shown as an escape: `\x1b`, `\n`. */
export function visible(text: string): string {
  return text.replace(CONTROL, (c) => NAMED.get(c) ?? `\\x${hex(c)}`);
}

/** Multi-line `text` made visible line by line: its line breaks stay, nothing else acts on the terminal. */
export function visibleLines(text: string): string {
  return text.split('\n').map(visible).join('\n');
}

/**
 * `value` as one line of JSON. JSON escapes C0 controls but leaves DEL and C1 raw; those are written as
 * `\u007f`…`\u009f` (still the same JSON value) so a JSON line is as safe on a terminal as a table.
 */
export function jsonLine(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/[\u007f-\u009f]/g, (c) => `\\u00${hex(c)}`);
}

export function createOutput(
  json: boolean,
  write: (s: string) => void = (s) => process.stdout.write(s),
): Output {
  return {
    json,
    result(value, text) {
      write(json ? `${jsonLine(value)}\n` : `${visibleLines(text())}\n`);
    },
  };
}
