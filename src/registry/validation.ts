/**
 * Input validation at the registry's boundary. Required fields and health values are checked first so
 * their errors are the specific ones (`missing_field`, `invalid_health`); everything else goes through zod
 * and comes back as `invalid_input` naming the field.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../errors.js';
import { InvalidHealthError, MissingFieldError } from './errors.js';
import { Health, type Agent, type AgentPatch, type JsonObject } from './types.js';

/** The fields an agent is built from (everything but the bookkeeping the registry adds). */
export interface AgentFields {
  readonly id: string;
  readonly type: string | null;
  readonly capabilities: readonly string[];
  readonly health: Health;
  readonly node: string;
  readonly process: string | null;
  readonly resources: Readonly<Record<string, number>>;
  readonly metadata: JsonObject;
}

const REQUIRED = ['id', 'capabilities', 'health', 'node', 'resources'] as const;
const HEALTH_VALUES: readonly string[] = Object.values(Health);

/** A name a dotted query path can address: resource names and metadata path segments. */
export const PATH_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Capabilities and resources per agent at most: each is a row (and bound parameters) in its index table. */
const MAX_ENTRIES = 1000;

/** Metadata deeper than this is refused; nothing legitimate nests so far. */
const MAX_METADATA_DEPTH = 32;

// NUL and unpaired surrogates cannot be stored in PostgreSQL text or JSONB; refusing them on both
// dialects keeps the two stores holding the same data.
const UNSTORABLE = /\u0000|\p{Cs}/u;

export function storableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

const name = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .refine(storableText, 'must not contain NUL or unpaired surrogate characters');

const capabilities = z
  .array(name)
  .min(1, 'must list at least one capability')
  .max(MAX_ENTRIES, `must list at most ${MAX_ENTRIES} capabilities`)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((c, i) => {
      if (seen.has(c))
        ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(c)} is listed twice` });
      seen.add(c);
    });
  });

/**
 * A record that refuses an own key `__proto__`: zod leaves such a key out of what it parses (assigning it
 * would set the prototype), so the entry would vanish without a word.
 */
function noProtoKey<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: 'the name "__proto__" is reserved' });
    }
    return value;
  }, schema);
}

const resources = noProtoKey(
  z.record(z.string(), z.number('must be a finite number')).superRefine((map, ctx) => {
    if (Object.keys(map).length > MAX_ENTRIES) {
      ctx.addIssue({ code: 'custom', path: [], message: `must hold at most ${MAX_ENTRIES} resources` });
    }
    for (const key of Object.keys(map)) {
      if (!PATH_SEGMENT.test(key) || key.length > 255) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `the name ${JSON.stringify(key)} must match [A-Za-z_][A-Za-z0-9_-]* (at most 255 characters)`,
        });
      }
    }
  }),
);

const metadata = noProtoKey(
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    checkJson(value, [], 0, ctx);
  }),
);

function checkJson(value: unknown, path: PropertyKey[], depth: number, ctx: z.RefinementCtx): void {
  if (depth > MAX_METADATA_DEPTH) {
    ctx.addIssue({ code: 'custom', path, message: `nests deeper than ${MAX_METADATA_DEPTH} levels` });
    return;
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) ctx.addIssue({ code: 'custom', path, message: 'must be a finite number' });
    return;
  }
  if (typeof value === 'string') {
    if (!storableText(value)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: 'must not contain NUL or unpaired surrogate characters',
      });
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, [...path, i], depth + 1, ctx));
    return;
  }
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (!storableText(key)) {
        ctx.addIssue({ code: 'custom', path, message: `the key ${JSON.stringify(key)} is not storable` });
      }
      checkJson(item, [...path, key], depth + 1, ctx);
    }
    return;
  }
  ctx.addIssue({
    code: 'custom',
    path,
    message: 'must be JSON (string, finite number, boolean, null, array, object)',
  });
}

const optionalName = name.nullable().optional();

const agentSchema = z.strictObject({
  id: name,
  capabilities,
  health: z.enum(Health),
  node: name,
  resources,
  type: optionalName,
  metadata: metadata.optional(),
  process: optionalName,
});

const patchSchema = z.strictObject({
  capabilities: capabilities.optional(),
  health: z.enum(Health).optional(),
  node: name.optional(),
  resources: resources.optional(),
  type: optionalName,
  metadata: metadata.optional(),
  process: optionalName,
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkHealth(input: Record<string, unknown>, prefix: string): void {
  if (
    input.health !== undefined &&
    (typeof input.health !== 'string' || !HEALTH_VALUES.includes(input.health))
  ) {
    throw new InvalidHealthError(`${prefix}health`, input.health);
  }
}

function invalid(prefix: string, issues: z.core.$ZodIssue[], what: string): ValidationError {
  const prefixed = issues.map((i) => ({
    ...i,
    path: [...(prefix === '' ? [] : prefix.split('.').filter(Boolean)), ...i.path],
  }));
  return new ValidationError(`invalid ${what}: ${describeIssues(prefixed)}`, {
    issues: prefixed.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

// -0 would be stored as 0 in JSON but as -0 in the resources index; one value for both. fromEntries
// defines own properties, so a resource named like `__proto__` is kept, never taken for the prototype.
function normalizeResources(r: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === 0 ? 0 : v]));
}

/**
 * Validates an agent to register. `prefix` names its place in a batch (`agents.3.`). Throws
 * `MissingFieldError`, `InvalidHealthError` or `ValidationError`.
 */
export function parseAgentInput(input: unknown, prefix = ''): AgentFields {
  if (!isRecord(input)) {
    throw new ValidationError(
      `invalid agent${prefix === '' ? '' : ` ${prefix.slice(0, -1)}`}: must be an object`,
    );
  }
  const missing = REQUIRED.filter((key) => input[key] === undefined).map((key) => `${prefix}${key}`);
  if (missing.length > 0) throw new MissingFieldError(missing);
  checkHealth(input, prefix);
  const parsed = agentSchema.safeParse(input);
  if (!parsed.success) throw invalid(prefix, parsed.error.issues, 'agent');
  const a = parsed.data;
  return {
    id: a.id,
    type: a.type ?? null,
    capabilities: a.capabilities,
    health: a.health,
    node: a.node,
    process: a.process ?? null,
    resources: normalizeResources(a.resources),
    metadata: canonicalJson(a.metadata ?? {}),
  };
}

// What the store will hand back: -0 becomes 0, and the object is a fresh copy the caller cannot mutate
// behind the registry's back.
function canonicalJson(value: Record<string, unknown>): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

/** Validates a list of agents to register together; errors name the agent's index. */
export function parseAgentInputs(inputs: unknown): AgentFields[] {
  if (!Array.isArray(inputs)) throw new ValidationError('invalid agents: must be a list of agents');
  return inputs.map((input, i) => parseAgentInput(input, `agents.${i}.`));
}

/** Validates a patch and applies it to `current`, giving the agent's new fields. */
export function applyPatch(current: Agent, patch: unknown): AgentFields {
  if (!isRecord(patch)) throw new ValidationError('invalid patch: must be an object');
  checkHealth(patch, '');
  const parsed = patchSchema.safeParse(patch);
  if (!parsed.success) throw invalid('', parsed.error.issues, 'patch');
  const p: AgentPatch = parsed.data as AgentPatch;
  return {
    id: current.id,
    type: p.type === undefined ? current.type : p.type,
    capabilities: p.capabilities ?? current.capabilities,
    health: p.health ?? current.health,
    node: p.node ?? current.node,
    process: p.process === undefined ? current.process : p.process,
    resources: p.resources === undefined ? current.resources : normalizeResources(p.resources),
    metadata: p.metadata === undefined ? current.metadata : canonicalJson(p.metadata),
  };
}

/** Validates an agent id given on its own. */
export function parseAgentId(id: unknown): string {
  const parsed = name.safeParse(id);
  if (!parsed.success) throw invalid('id', parsed.error.issues, 'agent id');
  return parsed.data;
}

/** Validates free text such as an unregister reason or a process id. */
export function parseText(value: unknown, field: string): string {
  const parsed = name.safeParse(value);
  if (!parsed.success) throw invalid(field, parsed.error.issues, field);
  return parsed.data;
}
