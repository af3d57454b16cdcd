/** Input validation at the primitives' boundary: zod schemas and one readable `invalid_input` error. */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { Pid } from '../../runtime/index.js';

/** Longest delay a clock timer takes in one piece, ms (about 24.8 days). */
export const MAX_MS = 2_147_483_647;

/** A lock, group, barrier, topic, holder or voter name. */
export const nameSchema = z.string().min(1).max(200);
/** A holder or candidate: a name, or a process of the local runtime (monitored). */
export const holderSchema = z.union([nameSchema, z.instanceof(Pid)]);
export const ttlSchema = z.number().int().min(1).max(MAX_MS);
export const waitSchema = z.number().int().min(0).max(MAX_MS);

/** Parses `input` with `schema`, or throws a `ValidationError` naming `what` and every problem. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ValidationError(`invalid ${what}: ${describeIssues(result.error.issues)}`, {
      issues: result.error.issues,
    });
  }
  return result.data;
}
