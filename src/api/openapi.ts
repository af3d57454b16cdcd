/** The OpenAPI document, generated from the same zod schemas that validate the requests. */
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

const errorResponse = {
  description: 'An error: {"error":{"code","message","details"}}',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
            required: ['code', 'message'],
          },
        },
      },
    },
  },
};

export function openApiDocument(routes: readonly Route[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      parameters: parameters(r),
      ...(r.body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } } }),
      responses: {
        '200': { description: 'OK (201 when created)' },
        '4XX': errorResponse,
        '5XX': errorResponse,
      },
    };
  }
  return { openapi: '3.1.0', info: { title: 'Garrison', version }, paths };
}
