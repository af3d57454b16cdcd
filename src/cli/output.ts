/** How commands print: human text by default, one JSON document with `--json`. */
export interface Output {
  readonly json: boolean;
  /** Prints `value` as JSON, or `text()` for people. */
  result(value: unknown, text: () => string): void;
}

export function createOutput(
  json: boolean,
  write: (s: string) => void = (s) => process.stdout.write(s),
): Output {
  return {
    json,
    result(value, text) {
      write(json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
    },
  };
}
