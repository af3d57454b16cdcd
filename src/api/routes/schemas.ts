/** Schemas shared by the routes: ids, paging and JSON values. */
import { z } from 'zod';

/** An id or a name given in a path, query or body. */
export const id = z.string().min(1).max(200);
/** Most rows answered; query strings are text, so numbers are coerced. */
export const limit = z.coerce.number().int().min(1).max(1000).optional();
export const afterId = z.coerce.number().int().min(0).optional();
export const idParam = z.strictObject({ id });
export const taskIdParam = z.strictObject({
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});
/** Any JSON value (bodies are already bounded in size and depth). */
export const json = z.unknown();
export const scalar = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);

/** `a,b,c` in a query string, each part checked by `item`. */
export const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .min(1)
    .transform((s) => s.split(','))
    .pipe(z.array(item).min(1).max(20));
