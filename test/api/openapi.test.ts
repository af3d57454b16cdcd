/** `/openapi.json` is generated from the routes and the very schemas that validate them. */
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

interface Operation {
  readonly summary: string;
  readonly 'x-garrison-access': string;
  readonly security: unknown[];
  readonly parameters: Array<{ name: string; in: string; required: boolean; schema: unknown }>;
  readonly requestBody?: { content: { 'application/json': { schema: unknown } } };
  readonly responses: Record<string, unknown>;
}
interface Document {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { securitySchemes: Record<string, unknown> };
}

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

describe.each(adapters)('OpenAPI document on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('lists every route with its access, its parameters and body from the validating schemas, and its errors', async () => {
    h = await startHarness(adapter);
    const reply = await call(h.url, 'GET', '/openapi.json');
    expect(reply.headers.get('content-type')).toBe('application/json');
    const doc = reply.json as Document;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    const listed = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(listed.sort()).toEqual(
      h.api.routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort(),
    );
    expect(listed).toHaveLength(50); // /v1/resources only when the context has resources
    for (const r of h.api.routes) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]![r.method.toLowerCase()]!;
      expect(op['x-garrison-access']).toBe(r.access);
      expect(op.security).toEqual(r.access === 'public' ? [] : [{ bearer: [] }]);
      expect(op.responses[String(r.okStatus)]).toBeDefined();
      if (r.body === undefined) expect(op.requestBody).toBeUndefined();
      else {
        expect(op.requestBody!.content['application/json'].schema).toEqual(jsonSchema(r.body));
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '413', '415', '422']));
      }
      for (const [where, schema] of [
        ['path', r.params],
        ['query', r.query],
      ] as const) {
        const names = op.parameters.filter((p) => p.in === where).map((p) => p.name);
        const properties =
          schema === undefined ? {} : (jsonSchema(schema) as { properties: object }).properties;
        expect(names, `${r.method} ${r.path} ${where}`).toEqual(Object.keys(properties));
      }
      if (r.access === 'admin') expect(op.responses['403']).toBeDefined();
    }
    const enqueue = doc.paths['/v1/tasks']!.post!;
    expect(
      (enqueue.requestBody!.content['application/json'].schema as { required: string[] }).required,
    ).toEqual(['queue', 'payload']);
    expect(doc.paths['/v1/workflows/{id}']!.get!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } },
    ]);
  });

  it('routes whose provider the context lacks are neither served nor documented', async () => {
    h = await startHarness(adapter);
    const { health: _health, nodes: _nodes, ...bare } = h.context;
    const { createApiServer } = await import('../../src/api/index.js');
    const api = await createApiServer(bare, { port: 0 });
    try {
      const doc = (await call(api.url, 'GET', '/openapi.json')).json as Document;
      expect(Object.keys(doc.paths)).not.toContain('/v1/health');
      expect(Object.keys(doc.paths)).not.toContain('/v1/nodes');
      expect(Object.keys(doc.paths)).not.toContain('/v1/queues/waiting');
      expect((await call(api.url, 'GET', '/v1/health')).status).toBe(404);
      const ready = await call(api.url, 'GET', '/readyz');
      expect([ready.status, (ready.json as { ready: boolean }).ready]).toEqual([200, true]);
    } finally {
      await api.close();
    }
  });
});
