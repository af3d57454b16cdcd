/**
 * Services with dependencies: started in dependency order, stopped in the reverse. The whole graph is
 * checked before the first service starts; a service that fails to start stops the ones already started,
 * newest first, so a failed start-up leaves nothing running.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import { systemClock, type Clock } from '../../runtime/index.js';
import { describeError, emitTo } from '../../telemetry/index.js';
import { ServiceStartError, ServiceStopError, type ServiceStopFailure } from '../errors.js';
import type { GovernanceEventSink } from '../events.js';
import { withTimeout } from '../timeout.js';
import { orderByDependencies } from './graph.js';

export interface ServiceDefinition {
  /** Unique among the services. */
  readonly name: string;
  /** Services that must be running before this one starts (and stop after it). Default none. */
  readonly dependsOn?: readonly string[];
  /** Starts the service. Its signal is aborted if it outlives its start time limit. */
  start(signal: AbortSignal): void | Promise<void>;
  /** Stops the service and releases what it holds. */
  stop(): void | Promise<void>;
  /** This service's start time limit, ms. Default: `startServices`' `startTimeoutMs`. */
  readonly startTimeoutMs?: number;
  /** This service's stop time limit, ms. Default: `startServices`' `stopTimeoutMs`. */
  readonly stopTimeoutMs?: number;
}

export interface StartServicesOptions {
  /** Time source for the time limits. Default the system clock. */
  readonly clock?: Clock;
  /** A service's start time limit, ms. Default 30 000. */
  readonly startTimeoutMs?: number;
  /** A service's stop time limit, ms; a stop that outlives it counts as failed and the next stops. Default 10 000. */
  readonly stopTimeoutMs?: number;
  /** Where `service.*` events go. Default none. */
  readonly events?: GovernanceEventSink;
}

/** Services started by `startServices`. */
export interface RunningServices {
  /** The start-up order. */
  readonly order: readonly string[];
  /** The services still running, in start-up order. */
  running(): string[];
  /**
   * Stops every running service in reverse start-up order. A stop that throws or times out does not keep
   * the others running; the failures are thrown together as `ServiceStopError` once all were asked. Calling
   * it again after it finished does nothing.
   */
  stop(): Promise<void>;
}

const fn = (what: string) =>
  z.custom<() => unknown>((v) => typeof v === 'function', { message: `${what} must be a function` });

const definitionSchema = z.object({
  name: z.string().min(1).max(200),
  dependsOn: z.array(z.string().min(1).max(200)).default([]),
  start: fn('start'),
  stop: fn('stop'),
  startTimeoutMs: z.number().int().min(1).optional(),
  stopTimeoutMs: z.number().int().min(1).optional(),
});

const optionsSchema = z.strictObject({
  clock: z.unknown().optional(),
  startTimeoutMs: z.number().int().min(1).default(30_000),
  stopTimeoutMs: z.number().int().min(1).default(10_000),
  events: z.unknown().optional(),
});

/**
 * The start-up order of `services`, without starting anything: throws `MissingDependencyError`,
 * `DependencyCycleError` or `ValidationError` exactly as `startServices` would.
 */
export function planServices(services: readonly ServiceDefinition[]): string[] {
  return order(parseDefinitions(services)).map((s) => s.name);
}

/** Starts `services` in dependency order. See `RunningServices` for stopping them. */
export async function startServices(
  services: readonly ServiceDefinition[],
  options: StartServicesOptions = {},
): Promise<RunningServices> {
  const o = optionsSchema.safeParse(options);
  if (!o.success) throw new ValidationError(`invalid service options: ${describeIssues(o.error.issues)}`);
  const clock = options.clock ?? systemClock;
  const events = options.events;
  const ordered = order(parseDefinitions(services));
  const running: Declared[] = [];

  const stopOne = async (s: Declared): Promise<ServiceStopFailure | undefined> => {
    try {
      await withTimeout(clock, s.stopTimeoutMs ?? o.data.stopTimeoutMs, `stop of service ${s.name}`, () =>
        s.definition.stop(),
      );
      emitTo(events, 'service.stopped', { service: s.name, ok: true });
      return undefined;
    } catch (error) {
      emitTo(events, 'service.stopped', { service: s.name, ok: false, error: describeError(error) });
      return { service: s.name, error };
    }
  };

  /** Stops what runs, newest first; returns the names stopped and the failures. */
  const stopRunning = async () => {
    const stopped: string[] = [];
    const failures: ServiceStopFailure[] = [];
    while (running.length > 0) {
      const s = running.pop() as Declared;
      const failure = await stopOne(s);
      stopped.push(s.name);
      if (failure !== undefined) failures.push(failure);
    }
    return { stopped, failures };
  };

  for (const s of ordered) {
    const startedAt = clock.now();
    try {
      await withTimeout(
        clock,
        s.startTimeoutMs ?? o.data.startTimeoutMs,
        `start of service ${s.name}`,
        (signal) => s.definition.start(signal),
      );
    } catch (error) {
      emitTo(events, 'service.start_failed', { service: s.name, error: describeError(error) });
      // The failed service may have half-started: it is asked to stop as well, before its dependencies.
      running.push(s);
      const { stopped, failures } = await stopRunning();
      throw new ServiceStartError(
        s.name,
        error,
        stopped.filter((name) => name !== s.name),
        failures,
      );
    }
    running.push(s);
    emitTo(events, 'service.started', { service: s.name, durationMs: clock.now() - startedAt });
  }

  let stopping: Promise<void> | undefined;
  return {
    order: ordered.map((s) => s.name),
    running: () => running.map((s) => s.name),
    stop() {
      stopping ??= stopRunning().then(({ failures }) => {
        if (failures.length > 0) throw new ServiceStopError(failures);
      });
      return stopping;
    },
  };
}

/** A validated service; `definition` is the caller's object, so its methods run with their own `this`. */
interface Declared {
  readonly definition: ServiceDefinition;
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly startTimeoutMs: number | undefined;
  readonly stopTimeoutMs: number | undefined;
}

function parseDefinitions(services: readonly ServiceDefinition[]): Declared[] {
  if (!z.array(z.unknown()).safeParse(services).success)
    throw new ValidationError('services must be an array');
  return services.map((definition, i) => {
    const p = definitionSchema.safeParse(definition);
    if (!p.success)
      throw new ValidationError(`invalid service at index ${i}: ${describeIssues(p.error.issues)}`);
    const { name, dependsOn, startTimeoutMs, stopTimeoutMs } = p.data;
    return { definition, name, dependsOn, startTimeoutMs, stopTimeoutMs };
  });
}

function order(services: readonly Declared[]): Declared[] {
  return orderByDependencies(services, { name: (s) => s.name, dependsOn: (s) => s.dependsOn });
}
