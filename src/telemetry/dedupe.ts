/**
 * "Once per interval" de-duplication: the first occurrence of a key is let through, repeats within the
 * interval are counted and held back, and the next occurrence let through says how many were held back.
 */
import { z } from 'zod';
import { systemClock, type Clock } from '../runtime/clock.js';
import { ValidationError, describeIssues } from '../errors.js';

export interface DeduperOptions {
  /** How long repeats of a key are held back after one is let through, in ms. */
  readonly intervalMs: number;
  /** Keys remembered at most; the least recently seen is forgotten first. Default 10000. */
  readonly maxKeys?: number;
  /** Time source. Default the system clock. */
  readonly clock?: Clock;
}

export interface DedupeDecision {
  /** True when this occurrence should be reported. */
  readonly emit: boolean;
  /** When `emit`: how many occurrences of the key were held back since the last one reported. */
  readonly suppressed: number;
}

export interface Deduper {
  check(key: string): DedupeDecision;
}

interface Seen {
  readonly emittedAt: number;
  suppressed: number;
}

export function createDeduper(options: DeduperOptions): Deduper {
  const parsed = z
    .object({ intervalMs: z.number().int().min(1), maxKeys: z.number().int().min(1).default(10_000) })
    .safeParse(options);
  if (!parsed.success)
    throw new ValidationError(`invalid deduper options: ${describeIssues(parsed.error.issues)}`);
  const { intervalMs, maxKeys } = parsed.data;
  const clock = options.clock ?? systemClock;
  // Insertion-ordered: a key seen again moves to the end, so the first key is the least recently seen.
  // One long-lived iterator finds it: every key before its position is already forgotten, and it skips
  // deleted slots only once (a fresh `keys().next()` would rescan them on every call).
  const seen = new Map<string, Seen>();
  let cursor = seen.keys();
  return {
    check(key) {
      const now = clock.now();
      const entry = seen.get(key);
      if (entry !== undefined) {
        seen.delete(key);
        seen.set(key, entry);
      }
      if (entry !== undefined && now - entry.emittedAt < intervalMs) {
        entry.suppressed++;
        return { emit: false, suppressed: 0 };
      }
      seen.delete(key);
      seen.set(key, { emittedAt: now, suppressed: 0 });
      if (seen.size > maxKeys) {
        let oldest = cursor.next();
        if (oldest.done === true) {
          cursor = seen.keys();
          oldest = cursor.next();
        }
        if (oldest.done !== true) seen.delete(oldest.value);
      }
      return { emit: true, suppressed: entry?.suppressed ?? 0 };
    },
  };
}
