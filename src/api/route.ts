/**
 * A route: method, path with `:params`, who may call it, the zod schemas of its params, query and body
 * (the same ones the OpenAPI document shows), and its handler.
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { z } from 'zod';
import { describeIssues } from '../errors.js';
import type { RouteAccess } from './auth.js';
import { ApiError } from './errors.js';

/** The hono environment of the API: node:http's request and response, and what the app keeps per request. */
export interface ApiEnv {
  Bindings: HttpBindings;
  Variables: {
    /** Methods allowed on the path, gathered when no route answered it (405 rather than 404). */
    allow?: readonly string[];
    /** Who is calling, as the authenticator says (`api`, `api:<token name>`): for audit trails. */
    caller?: string;
  };
}

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The request's hono context, for a handler that answers with a stream of its own. */
  readonly context: Context<ApiEnv>;
}

/**
 * A handler answers JSON, or text of a content type, with status 200 unless it says otherwise — or a
 * `Response` it made itself (the event stream).
 */
export type RouteResult =
  | { readonly status?: number; readonly json: unknown }
  | { readonly status?: number; readonly text: string; readonly contentType: string }
  | { readonly response: Response };

export type Method = 'GET' | 'POST' | 'DELETE';

export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly summary: string;
  /** Who may call it. Default: `read` for GET, `admin` for the rest. */
  readonly access: RouteAccess;
  /** The status of success, for the OpenAPI document. Default 200. */
  readonly okStatus: number;
  /** The content type of success, for the OpenAPI document. Default `application/json`. */
  readonly produces: string;
  /**
   * Statuses this route gives beyond those every route of its kind gives, with what they mean, for the
   * OpenAPI document (below 400: another success; from 400: an error in the one error shape).
   */
  readonly also: Readonly<Record<number, string>>;
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
  method: Method;
  path: string;
  summary: string;
  access?: RouteAccess;
  okStatus?: number;
  produces?: string;
  also?: Readonly<Record<number, string>>;
  params?: P;
  query?: Q;
  body?: B;
  handle: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<RouteResult>;
}): Route {
  return {
    ...spec,
    access: spec.access ?? (spec.method === 'GET' ? 'read' : 'admin'),
    okStatus: spec.okStatus ?? 200,
    produces: spec.produces ?? 'application/json',
    also: spec.also ?? {},
    handle: spec.handle,
  };
}

/** Validates one part of a request; a failure is 422 naming every bad field. */
export function parsePart(schema: z.ZodType | undefined, value: unknown, part: string): unknown {
  if (schema === undefined) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ApiError(422, 'invalid_input', `invalid ${part}: ${describeIssues(parsed.error.issues)}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    });
  return parsed.data;
}
