/** Input checks shared by the primitives: a bad value is `invalid_input` naming the field; nothing is written. */
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';

export const name = z.string().min(1).max(200);
export const ms = z.number().int().min(1).max(86_400_000);

export function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`invalid ${what}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
