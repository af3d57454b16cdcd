/**
 * The typed errors of the governance layer. Each has a stable `code`; `retryable` says whether the same
 * request can succeed later. Bad options are a `ValidationError` (`invalid_input`) instead.
 */
import { GarrisonError } from '../errors.js';
import { describeError } from '../telemetry/index.js';

export const GovernanceErrorCode = {
  /** A resource limit of this node is reached: the request was refused and nothing was taken. Retryable. */
  resourceExhausted: 'resource_exhausted',
  /** A service depends on a service nobody declared; nothing was started. */
  missingDependency: 'missing_dependency',
  /** Services depend on each other in a cycle; nothing was started. */
  dependencyCycle: 'dependency_cycle',
  /** A service failed to start; the services started before it were stopped again, in reverse order. */
  serviceStartFailed: 'service_start_failed',
  /** One or more services failed to stop; every other service was still stopped. */
  serviceStopFailed: 'service_stop_failed',
  /** A health check with this name is already registered. */
  healthCheckExists: 'health_check_exists',
  /** A service's start or stop, or a health check, outlived its time limit (on the injected clock). */
  timeout: 'timeout',
} as const;
export type GovernanceErrorCode = (typeof GovernanceErrorCode)[keyof typeof GovernanceErrorCode];

/** A request for a resource that would take its usage past the node's limit. Nothing was acquired. */
export class ResourceExhaustedError extends GarrisonError {
  declare readonly code: 'resource_exhausted';
  /** The resource kind whose limit was reached, e.g. `agents`. */
  readonly kind: string;
  /** The configured limit of `kind`. */
  readonly limit: number;
  /** Usage of `kind` when the request was refused. */
  readonly current: number;
  /** The amount asked for. */
  readonly requested: number;

  constructor(kind: string, limit: number, current: number, requested: number) {
    super(
      GovernanceErrorCode.resourceExhausted,
      `resource limit ${kind} reached: ${current} in use, ${requested} requested, limit ${limit}`,
      { retryable: true, details: { kind, limit, current, requested } },
    );
    this.kind = kind;
    this.limit = limit;
    this.current = current;
    this.requested = requested;
  }
}

/** Services name dependencies that are not declared. */
export class MissingDependencyError extends GarrisonError {
  declare readonly code: 'missing_dependency';
  /** Every missing edge: the service and the dependency it names. */
  readonly missing: ReadonlyArray<{ readonly service: string; readonly dependency: string }>;

  constructor(missing: ReadonlyArray<{ service: string; dependency: string }>) {
    super(
      GovernanceErrorCode.missingDependency,
      `missing service dependencies: ${missing
        .map((m) => `${m.service} depends on ${m.dependency}, which is not declared`)
        .join('; ')}`,
      { details: { missing } },
    );
    this.missing = missing;
  }
}

/** Services depend on each other in a cycle. */
export class DependencyCycleError extends GarrisonError {
  declare readonly code: 'dependency_cycle';
  /** The cycle as a path that ends where it starts, e.g. `['api', 'auth', 'api']`. */
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    super(GovernanceErrorCode.dependencyCycle, `service dependency cycle: ${cycle.join(' → ')}`, {
      details: { cycle },
    });
    this.cycle = cycle;
  }
}

/** A failure to stop one service. */
export interface ServiceStopFailure {
  readonly service: string;
  readonly error: unknown;
}

/** A service failed to start (threw or timed out); those started before it were stopped again. */
export class ServiceStartError extends GarrisonError {
  declare readonly code: 'service_start_failed';
  /** The service that failed. */
  readonly service: string;
  /** The services stopped again after the failure, in the order they were stopped. */
  readonly stopped: readonly string[];
  /** Services that failed to stop during that rollback. */
  readonly stopFailures: readonly ServiceStopFailure[];

  constructor(
    service: string,
    cause: unknown,
    stopped: readonly string[],
    stopFailures: readonly ServiceStopFailure[],
  ) {
    super(
      GovernanceErrorCode.serviceStartFailed,
      `service ${service} failed to start: ${describeError(cause)}` +
        (stopped.length > 0 ? `; stopped again: ${stopped.join(', ')}` : '') +
        (stopFailures.length > 0 ? `; failed to stop: ${stopFailures.map((f) => f.service).join(', ')}` : ''),
      { cause, details: { service, stopped, stopFailures: stopFailures.map((f) => f.service) } },
    );
    this.service = service;
    this.stopped = stopped;
    this.stopFailures = stopFailures;
  }
}

/** One or more services failed to stop (threw or timed out); every service was still asked to stop. */
export class ServiceStopError extends GarrisonError {
  declare readonly code: 'service_stop_failed';
  readonly failures: readonly ServiceStopFailure[];

  constructor(failures: readonly ServiceStopFailure[]) {
    super(
      GovernanceErrorCode.serviceStopFailed,
      `services failed to stop: ${failures
        .map((f) => `${f.service} (${describeError(f.error)})`)
        .join('; ')}`,
      { cause: failures[0]?.error, details: { services: failures.map((f) => f.service) } },
    );
    this.failures = failures;
  }
}

/** A start, stop or check outlived its time limit (measured on the injected clock). */
export class GovernanceTimeoutError extends GarrisonError {
  declare readonly code: 'timeout';
  /** What timed out, e.g. `start of service db`. */
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(GovernanceErrorCode.timeout, `${operation} did not finish within ${timeoutMs} ms`, {
      retryable: true,
      details: { operation, timeoutMs },
    });
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** A health check name is taken. */
export class HealthCheckExistsError extends GarrisonError {
  declare readonly code: 'health_check_exists';
  readonly check: string;

  constructor(check: string) {
    super(GovernanceErrorCode.healthCheckExists, `a health check named ${check} is already registered`, {
      details: { check },
    });
    this.check = check;
  }
}
