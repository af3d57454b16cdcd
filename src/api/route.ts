/** A route: method, path with `:params`, zod schemas for params, query and body, and its handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { describeIssues } from '../errors.js';
import { ApiError } from './errors.js';

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** A handler answers a JSON value (status 200, or `status`), or takes over the response (`undefined`). */
export type RouteResult = { readonly status?: number; readonly json: unknown } | undefined;

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly summary: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly handle: (input: RouteInput<never, never, never>) => Promise<RouteResult>;
}

/** Declares a route with typed input. */
export function route<
  P extends z.ZodType = z.ZodType<Record<string, never>>,
  Q extends z.ZodType = z.ZodType<Record<string, never>>,
  B extends z.ZodType = z.ZodType<undefined>,
>(spec: {
  method: Route['method'];
  path: string;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  handle: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<RouteResult>;
}): Route {
  return spec;
}

/** Validates one part of a request; a failure is 422 naming every bad field. */
export function parsePart(schema: z.ZodType | undefined, value: unknown, part: string): unknown {
  if (schema === undefined) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ApiError(422, 'invalid_input', `invalid ${part}: ${describeIssues(parsed.error.issues)}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  return parsed.data;
}

/** Matches `/v1/workflows/:id` against a path; answers the params or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const p = a[i] as string;
    const v = b[i] as string;
    if (p.startsWith(':')) {
      if (v === '') return undefined;
      try {
        params[p.slice(1)] = decodeURIComponent(v);
      } catch {
        return undefined;
      }
    } else if (p !== v) return undefined;
  }
  return params;
}
