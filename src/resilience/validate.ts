/** Option validation at the public boundary: zod schemas, one readable `invalid_input` error. */
import type { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';

/** Parses `input` with `schema`, or throws a `ValidationError` naming `what` and every problem. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(`invalid ${what}: ${describeIssues(result.error.issues)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}
