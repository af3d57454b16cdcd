/** Argument parsers for commander options: a bad value is a one-line error naming the option. */
import { InvalidArgumentError } from 'commander';

export function parseJsonArgument(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`not valid JSON (${(error as Error).message})`);
  }
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`must be a whole number of at least 1, not "${value}"`);
  return n;
}

export function parseIdList(value: string): number[] {
  return value.split(',').map((part) => parsePositiveInt(part.trim()));
}

/** A choice among fixed values. */
export function oneOf<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value))
      throw new InvalidArgumentError(`must be one of ${values.join(', ')}, not "${value}"`);
    return value as T;
  };
}

/**
 * A list of choices among fixed values, comma-separated and/or given by repeating the option (commander
 * passes the values so far as `previous`); duplicates are dropped.
 */
export function listOf<T extends string>(values: readonly T[]) {
  const one = oneOf(values);
  return (value: string, previous: readonly T[] | undefined): T[] => {
    const parts = value.split(',').map((part) => part.trim());
    if (parts.some((part) => part === ''))
      throw new InvalidArgumentError(
        `must be a comma-separated list of ${values.join(', ')}, not "${value}"`,
      );
    return [...new Set([...(previous ?? []), ...parts.map(one)])];
  };
}

const DURATION_UNITS = new Map<string, number>([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);

/** A duration such as `7d`, `12h`, `30m`, `45s` or `500ms`, in ms. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  const ms = match === null ? NaN : Number(match[1]) * DURATION_UNITS.get(match[2]!)!;
  if (!Number.isSafeInteger(ms))
    throw new InvalidArgumentError(`must be a duration such as 7d, 12h, 30m, 45s or 500ms, not "${value}"`);
  return ms;
}
