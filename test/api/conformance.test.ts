/* eslint-disable @typescript-eslint/no-unsafe-assignment -- documents and replies are JSON, checked by hand */
/**
 * The server does what `/openapi.json` says: random requests made from the document itself (each
 * operation's path parameters, query and body from their schemas, plus junk, other methods, wrong content
 * types, other sites' origins, foreign hosts and tokens right and wrong) get only statuses the document
 * lists for that operation, and every JSON error body matches the documented error schema (checked by a
 * small validator of the JSON-schema subset the document uses).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/api/index.js';
import { adapters } from '../support/stores.js';
import { call, rawCall, startHarness, type Harness } from './support.js';

type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON schema
interface Operation {
  readonly parameters: Array<{ name: string; in: 'path' | 'query'; required: boolean; schema: Schema }>;
  readonly requestBody?: { content: { 'application/json': { schema: Schema } } };
  readonly responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { schemas: Record<string, Schema> };
}

/** Errors of `value` against `schema` (the subset the document uses); empty when it conforms. */
function validate(value: unknown, schema: Schema, doc: Document, at = '$'): string[] {
  if (typeof schema.$ref === 'string')
    return validate(value, doc.components.schemas[schema.$ref.split('/').pop()!]!, doc, at);
  const errors: string[] = [];
  const anyOf = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (anyOf !== undefined && !anyOf.some((s) => validate(value, s, doc, at).length === 0))
    errors.push(`${at}: matches none of its alternatives`);
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at}: not ${String(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: not one of the enum`);
  const types = schema.type === undefined ? [] : [schema.type as string].flat();
  const typeOf = (v: unknown) =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (
    types.length > 0 &&
    !types.some((t) => t === typeOf(value) || (t === 'number' && typeOf(value) === 'integer'))
  )
    return [...errors, `${at}: a ${typeOf(value)}, not ${types.join('|')}`];
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: too long`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above maximum`);
  }
  if (Array.isArray(value) && schema.items !== undefined)
    value.forEach((v, i) => errors.push(...validate(v, schema.items as Schema, doc, `${at}[${i}]`)));
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[])
      if (!Object.hasOwn(o, key)) errors.push(`${at}: ${key} is missing`);
    for (const [key, v] of Object.entries(o)) {
      const s = Object.hasOwn(properties, key) ? properties[key] : undefined;
      if (s !== undefined) errors.push(...validate(v, s, doc, `${at}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: ${key} is not allowed`);
    }
  }
  return errors;
}

/** Values for a schema: mostly plausible, bounded in depth. */
function arbitraryOf(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives !== undefined && depth < 3)
    return fc.oneof(...alternatives.map((s) => arbitraryOf(s, depth + 1)));
  switch ([schema.type].flat()[0]) {
    case 'string':
      return fc.oneof(
        fc.constantFrom('1', 'w-1', 'waiter', 'typed', 'jobs', 'payments', 'ghost'),
        fc.string({ minLength: schema.minLength ?? 0, maxLength: 12 }),
      );
    case 'integer':
      return fc.integer({
        min: Math.max((schema.minimum as number | undefined) ?? -10, -10),
        max: Math.min((schema.maximum as number | undefined) ?? 5000, 5000),
      });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: 5000 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(arbitraryOf((schema.items as Schema | undefined) ?? {}, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, s] of Object.entries(properties)) model[key] = arbitraryOf(s, depth + 1);
      return fc.record(model, { requiredKeys: (schema.required ?? []) as string[] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  readonly headers: Record<string, string>;
  /** The operation the request was made for (the one its path and method name, when there is one). */
  readonly documented: Operation | undefined;
}

const METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'PATCH'];
/** What any path may answer for a method no operation takes: the guard, auth, 405/404, node:http's own. */
const ANY_PATH = ['400', '401', '403', '404', '405', '408', '415', '421', '429', '431', '500', '503'];

function requests(doc: Document, url: string, tokens: readonly string[]): fc.Arbitrary<Request> {
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );
  // The event stream would stay open: it is covered by events.test.ts.
  const chosen = operations.filter((o) => o.path !== '/v1/events');
  return fc.constantFrom(...chosen).chain(({ path, method, op }) => {
    const params = op.parameters.filter((p) => p.in === 'path');
    const query = op.parameters.filter((p) => p.in === 'query');
    const bodySchema = op.requestBody?.content['application/json'].schema;
    return fc
      .record({
        method: fc.oneof(
          { weight: 6, arbitrary: fc.constant(method) },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        params: fc.tuple(
          ...params.map(() =>
            fc.oneof(
              fc.constantFrom('1', '2', 'w-1', 'ghost', 'payments'),
              fc.string({ minLength: 1, maxLength: 8 }),
              fc.constant('x'.repeat(201)),
            ),
          ),
        ),
        query: fc.tuple(
          ...query.map((p) =>
            fc.option(arbitraryOf(p.schema).map((v) => (Array.isArray(v) ? v.join(',') : String(v)))),
          ),
        ),
        stray: fc.option(fc.constantFrom('__proto__=1', 'limit=-1', 'x=y')),
        body: fc.oneof(
          {
            weight: 4,
            arbitrary:
              bodySchema === undefined
                ? fc.constant('')
                : arbitraryOf(bodySchema).map((v) => JSON.stringify(v)),
          },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
          { weight: 1, arbitrary: fc.constantFrom('', '{', 'not json', '[]') },
        ),
        type: fc.constantFrom(
          'application/json',
          'application/json',
          'application/json',
          'text/plain',
          undefined,
        ),
        origin: fc.constantFrom(undefined, undefined, undefined, url, 'https://evil.example'),
        host: fc.constantFrom(undefined, undefined, undefined, undefined, 'attacker.example', 'localhost'),
        token: fc.constantFrom(undefined, ...tokens),
      })
      .map((x): Request => {
        let p = path;
        params.forEach((param, i) => (p = p.replace(`{${param.name}}`, encodeURIComponent(x.params[i]!))));
        const q = new URLSearchParams();
        query.forEach((param, i) => {
          const v = x.query[i];
          if (v !== null && v !== undefined) q.set(param.name, v);
        });
        const search = [q.toString(), x.stray ?? ''].filter(Boolean).join('&');
        const headers: Record<string, string> = {};
        if (x.type !== undefined) headers['content-type'] = x.type;
        if (x.origin !== undefined) headers.origin = x.origin;
        if (x.host !== undefined) headers.host = x.host;
        if (x.token !== undefined) headers.authorization = `Bearer ${x.token}`;
        const hasBody = x.method !== 'GET' && x.method !== 'HEAD';
        const opMethod = x.method === 'HEAD' ? 'get' : x.method.toLowerCase();
        return {
          method: x.method,
          path: search === '' ? p : `${p}?${search}`,
          body: hasBody ? x.body : '',
          headers,
          documented: doc.paths[path]![opMethod],
        };
      });
  });
}

describe.each(adapters)('the API conforms to its OpenAPI document on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function seed(x: Harness): Promise<void> {
    await x.queues.enqueue('jobs', { n: 1 });
    await (await x.workflows.start('typed', 1, { workflowId: 'w-1' })).result();
    x.breakers.get('payments');
  }

  for (const withTokens of [false, true])
    it(`random requests from the document get only documented statuses and documented error bodies (${withTokens ? 'with' : 'without'} tokens)`, async () => {
      const admin = createApiToken();
      const reader = createApiToken();
      h = await startHarness(
        adapter,
        withTokens
          ? {
              auth: {
                tokens: [
                  { token: admin.token, scope: 'admin' },
                  { token: reader.token, scope: 'read' },
                ],
                failedAttemptBurst: 50,
              },
            }
          : {},
      );
      await seed(h);
      const doc = (
        await call(h.url, 'GET', '/openapi.json', undefined, { authorization: `Bearer ${admin.token}` })
      ).json as Document;
      const tokens = withTokens ? [admin.token, admin.token, reader.token, 'wrong-token'] : [];
      const seen = new Map<number, number>();
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(requests(doc, h.url, tokens), async (req) => {
          const reply = await rawCall(h!.url, req.method, req.path, req.body, req.headers);
          sent += 1;
          seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
          const what = `${req.method} ${req.path} ${JSON.stringify(req.headers)} ${req.body.slice(0, 60)} → ${reply.status} ${reply.text.slice(0, 200)}`;
          const allowed = req.documented === undefined ? ANY_PATH : Object.keys(req.documented.responses);
          expect(allowed, what).toContain(String(reply.status));
          expect(reply.status, what).not.toBe(500);
          if (req.method === 'HEAD') return;
          const documented = req.documented?.responses[String(reply.status)];
          const type = (reply.headers.get('content-type') ?? '').split(';')[0]!;
          if (reply.status >= 400) {
            expect(type, what).toBe('application/json');
            const schema = documented?.content?.['application/json']?.schema ?? {
              $ref: '#/components/schemas/Error',
            };
            expect(validate(reply.json, schema, doc), what).toEqual([]);
          } else {
            const content = documented?.content ?? {};
            expect(
              Object.keys(content).map((t) => t.split(';')[0]),
              what,
            ).toContain(type);
            if (type === 'application/json')
              expect(validate(reply.json, content[type]?.schema ?? {}, doc), what).toEqual([]);
          }
        }),
        { numRuns: 400 },
      );
      const figures = [...seen].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
      console.log(
        `conformance (${adapter.name}, ${withTokens ? 'tokens' : 'no token'}): ${sent} requests; ${figures.join(' ')}`,
      );
      expect(sent).toBeGreaterThanOrEqual(400);
      expect(seen.size).toBeGreaterThanOrEqual(6); // the requests reach many kinds of answer, not one
    });
});
