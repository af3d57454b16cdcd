/**
 * Subscription patterns. A pattern is one of:
 * - an exact type, `agent.started`: matches that type only;
 * - `prefix.*`, such as `error.*`: matches every type that starts with the prefix's segments and has at
 *   least one segment more (`error.db`, `error.db.timeout`), but not `error` itself nor `errors.db`;
 * - `*`: matches every type.
 * A `*` anywhere else (`error.*.timeout`, `err*`) is rejected.
 */
import { MessagingError, MessagingErrorCode } from '../errors.js';
import { signalTypePattern } from './signal.js';

export type Pattern =
  | { readonly kind: 'all'; readonly text: '*' }
  | { readonly kind: 'exact'; readonly text: string; readonly type: string }
  | { readonly kind: 'prefix'; readonly text: string; readonly prefix: string };

export function parsePattern(text: string): Pattern {
  if (typeof text !== 'string') {
    throw new MessagingError(MessagingErrorCode.invalidPattern, 'a signal pattern must be a string');
  }
  if (text === '*') return { kind: 'all', text };
  if (text.endsWith('.*')) {
    const prefix = text.slice(0, -2);
    if (signalTypePattern.test(prefix)) return { kind: 'prefix', text, prefix };
  } else if (signalTypePattern.test(text)) return { kind: 'exact', text, type: text };
  throw new MessagingError(
    MessagingErrorCode.invalidPattern,
    `"${text}" is not a signal pattern: use an exact type (error.db), a prefix wildcard (error.*) or *`,
    { details: { pattern: text } },
  );
}

/** The prefixes a type's wildcard subscribers may be registered under: `a.b.c` → `a`, `a.b`. */
export function prefixesOf(type: string): string[] {
  const prefixes: string[] = [];
  let at = type.indexOf('.');
  while (at !== -1) {
    prefixes.push(type.slice(0, at));
    at = type.indexOf('.', at + 1);
  }
  return prefixes;
}

export function matches(pattern: Pattern, type: string): boolean {
  if (pattern.kind === 'all') return true;
  if (pattern.kind === 'exact') return pattern.type === type;
  return type.startsWith(`${pattern.prefix}.`);
}
