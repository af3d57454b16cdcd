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
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};
const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function responses(r: Route): Record<string, unknown> {
  const out: Record<string, unknown> = {
    [String(r.okStatus)]: { description: 'Success', content: { [r.produces]: {} } },
  };
  if (r.access !== 'public') {
    out['401'] = error('No token, or a wrong one');
    if (r.access === 'admin') out['403'] = error('The token may only read');
    out['429'] = error('Too many wrong tokens from this address, or the node is out of a resource');
  }
  if (r.params !== undefined || r.query !== undefined || r.body !== undefined)
    out['422'] = error('A parameter, the query or the body is invalid; details.issues names each field');
  if (r.body !== undefined) {
    out['400'] = error('The body is not JSON');
    out['413'] = error('The body is larger than the limit');
    out['415'] = error('The body is not application/json');
  }
  if (r.path.includes(':')) out['404'] = error('Nothing has that id');
  out['503'] = error('Overloaded or not ready; retry after Retry-After seconds');
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
