/**
 * The OpenAPI 3.1 document, generated from the routes themselves: their paths, access, and the very
 * zod schemas that validate their params, query and body (zod 4's `z.toJSONSchema`, input side).
 */
import { z } from 'zod';
import type { Route } from './route.js';

const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

function parameters(r: Route): unknown[] {
  const out: unknown[] = [];
  for (const [where, schema] of [
    ['path', r.params],
    ['query', r.query],
  ] as const) {
    if (schema === undefined) continue;
    const js = schemaOf(schema) as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {}))
      out.push({
        name,
        in: where,
        required: where === 'path' || (js.required ?? []).includes(name),
        schema: s,
      });
  }
  return out;
}

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {},
        /** Only on 500: the id under which the detail was logged (also the X-Request-Id header). */
        requestId: { type: 'string' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every status a route can answer: its success, what its kind of route gives (the request guard,
 * authentication, validation, bodies, admission, node:http's own refusals) and what it declares itself.
 */
function responses(r: Route): Record<string, unknown> {
  const out: Record<string, unknown> = {
    [String(r.okStatus)]: { description: 'Success', content: { [r.produces]: {} } },
  };
  const changes = !SAFE.has(r.method);
  const validated = r.params !== undefined || r.query !== undefined || r.body !== undefined;
  out['400'] = error(
    r.body === undefined
      ? 'The request is not valid HTTP'
      : 'The body is not JSON, or the request is not valid HTTP',
  );
  if (r.access !== 'public') out['401'] = error('No token, or a wrong one (when the server has tokens)');
  if (r.access === 'admin' || changes)
    out['403'] = error(
      [r.access === 'admin' ? 'the token may only read' : '', changes ? 'a request from another site' : '']
        .filter(Boolean)
        .join('; ')
        .replace(/^./, (c) => c.toUpperCase()),
    );
  if (r.path.includes(':')) out['404'] = error('Nothing has that id');
  out['405'] = error('Another method on this path (Allow lists those it takes)');
  out['408'] = error('The request or its body did not arrive in time (request_timeout, body_timeout)');
  if (r.body !== undefined) out['413'] = error('The body is larger than the limit');
  if (changes) out['415'] = error('The request does not say Content-Type: application/json');
  out['421'] = error('The Host header names no host this server answers for');
  if (validated || changes)
    out['422'] = error('A parameter, the query or the body is invalid; details.issues names each field');
  if (r.access !== 'public')
    out['429'] = error('Too many wrong tokens from this address, or the node is out of a resource');
  out['431'] = error('The request headers are too large');
  out['500'] = error('An unexpected failure: internal_error and a requestId, the detail is in the log');
  out['503'] = error('Overloaded or not ready; retry after Retry-After seconds');
  for (const [status, description] of Object.entries(r.also))
    out[status] = Number(status) < 400 ? { description, content: { [r.produces]: {} } } : error(description);
  return out;
}

export function openApiDocument(routes: readonly Route[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      'x-garrison-access': r.access,
      security: r.access === 'public' ? [] : [{ bearer: [] }],
      parameters: parameters(r),
      ...(r.body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } } }),
      responses: responses(r),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Garrison',
      version,
      description:
        'Durable multi-agent runtime. Tokens: `read` may call GET routes and /v1/agents/query; `admin` all.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}
