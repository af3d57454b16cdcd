import { GarrisonError } from '../errors.js';

/** The codes of the registry's own errors. Input that fails otherwise is a `ValidationError` (`invalid_input`). */
export const RegistryErrorCode = {
  /** A required field of an agent is absent. */
  missingField: 'missing_field',
  /** `health` is not one of `healthy`, `degraded`, `unhealthy`. */
  invalidHealth: 'invalid_health',
  /** An agent with this id is already registered. */
  agentExists: 'agent_exists',
  /** No agent with this id is registered. */
  agentNotFound: 'agent_not_found',
  /** A query criterion cannot be understood (unknown path or operator, a value of the wrong kind). */
  invalidCriteria: 'invalid_criteria',
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** The base of the registry's errors. Nothing was written when one is thrown. */
export class RegistryError extends GarrisonError {
  declare readonly code: RegistryErrorCode;
  constructor(
    code: RegistryErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

export class MissingFieldError extends RegistryError {
  /** The missing fields, e.g. `['health']` or `['agents.2.node']`. */
  readonly fields: readonly string[];
  constructor(fields: readonly string[]) {
    super(
      RegistryErrorCode.missingField,
      `an agent needs ${fields.length === 1 ? 'the field' : 'the fields'} ${fields.join(', ')}`,
      { details: { fields } },
    );
    this.fields = fields;
  }
}

export class InvalidHealthError extends RegistryError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown) {
    super(
      RegistryErrorCode.invalidHealth,
      `${field}: ${JSON.stringify(value) ?? String(value)} is not a health value; use healthy, degraded or unhealthy`,
      { details: { field, value } },
    );
    this.field = field;
    this.value = value;
  }
}

export class AgentExistsError extends RegistryError {
  readonly agentId: string;
  constructor(agentId: string) {
    super(
      RegistryErrorCode.agentExists,
      `an agent with id ${JSON.stringify(agentId)} is already registered`,
      {
        details: { agentId },
      },
    );
    this.agentId = agentId;
  }
}

export class AgentNotFoundError extends RegistryError {
  readonly agentId: string;
  constructor(agentId: string) {
    super(RegistryErrorCode.agentNotFound, `no agent with id ${JSON.stringify(agentId)} is registered`, {
      details: { agentId },
    });
    this.agentId = agentId;
  }
}

export class InvalidCriteriaError extends RegistryError {
  /** The position of the bad criterion in the list. */
  readonly index: number;
  /** The bad criterion as given. */
  readonly criterion: unknown;
  constructor(index: number, criterion: unknown, reason: string) {
    // index -1: the list as a whole is wrong (not a list, too many criteria).
    super(
      RegistryErrorCode.invalidCriteria,
      index < 0
        ? `invalid criteria: ${reason}`
        : `criterion ${index} (${describeCriterion(criterion)}): ${reason}`,
      { details: { index, ...(index < 0 ? {} : { criterion }), reason } },
    );
    this.index = index;
    this.criterion = criterion;
  }
}

function describeCriterion(criterion: unknown): string {
  if (typeof criterion !== 'object' || criterion === null)
    return JSON.stringify(criterion) ?? String(criterion);
  const c = criterion as { path?: unknown; op?: unknown; value?: unknown };
  const value = JSON.stringify(c.value) ?? String(c.value);
  return `${String(c.path)} ${String(c.op)} ${value}`;
}
