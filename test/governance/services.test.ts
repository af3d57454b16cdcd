import { describe, expect, it } from 'vitest';
import {
  DependencyCycleError,
  MissingDependencyError,
  ServiceStartError,
  ServiceStopError,
  orderByDependencies,
  planServices,
  startServices,
  type ServiceDefinition,
} from '../../src/governance/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { recordEvents } from './support.js';

interface Fake extends ServiceDefinition {
  failStart?: boolean;
  failStop?: boolean;
  hangStart?: boolean;
}

/** Services that log their starts and stops. */
function fleet(log: string[], specs: Array<{ name: string; dependsOn?: string[] } & Partial<Fake>>): Fake[] {
  return specs.map((s) => ({
    ...s,
    start(signal) {
      if (s.hangStart) {
        log.push(`start ${s.name} (hangs)`);
        return new Promise<void>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
        );
      }
      log.push(`start ${s.name}`);
      if (s.failStart) throw new Error(`${s.name} cannot start`);
    },
    stop() {
      log.push(`stop ${s.name}`);
      if (s.failStop) throw new Error(`${s.name} cannot stop`);
    },
  }));
}

describe('service dependencies', () => {
  it('starts services after their dependencies, keeping declaration order otherwise', async () => {
    const log: string[] = [];
    const services = fleet(log, [
      { name: 'api', dependsOn: ['registry', 'queues'] },
      { name: 'store' },
      { name: 'registry', dependsOn: ['store'] },
      { name: 'metrics' },
      { name: 'queues', dependsOn: ['store', 'scheduler'] },
      { name: 'scheduler', dependsOn: ['store'] },
    ]);
    expect(planServices(services)).toEqual(['store', 'registry', 'scheduler', 'queues', 'api', 'metrics']);
    const running = await startServices(services, { clock: new VirtualClock() });
    expect(running.order).toEqual(['store', 'registry', 'scheduler', 'queues', 'api', 'metrics']);
    expect(log).toEqual(running.order.map((n) => `start ${n}`));
    expect(running.running()).toEqual(running.order);
  });

  it('stops them in reverse start-up order', async () => {
    const log: string[] = [];
    const events = recordEvents();
    const running = await startServices(
      fleet(log, [{ name: 'api', dependsOn: ['db'] }, { name: 'db' }, { name: 'cache', dependsOn: ['db'] }]),
      { clock: new VirtualClock(), events },
    );
    log.length = 0;
    await running.stop();
    expect(log).toEqual(['stop cache', 'stop api', 'stop db']);
    expect(running.running()).toEqual([]);
    await running.stop(); // a second stop does nothing
    expect(log).toHaveLength(3);
    expect(events.of('service.started').map((e) => e.service)).toEqual(['db', 'api', 'cache']);
    expect(events.of('service.stopped').map((e) => [e.service, e.ok])).toEqual([
      ['cache', true],
      ['api', true],
      ['db', true],
    ]);
  });

  it('a missing dependency is an error before anything starts, naming the services', async () => {
    const log: string[] = [];
    const services = fleet(log, [
      { name: 'db' },
      { name: 'api', dependsOn: ['db', 'auth'] },
      { name: 'jobs', dependsOn: ['queue'] },
    ]);
    const start = startServices(services, { clock: new VirtualClock() });
    await expect(start).rejects.toBeInstanceOf(MissingDependencyError);
    await expect(start).rejects.toMatchObject({
      code: 'missing_dependency',
      missing: [
        { service: 'api', dependency: 'auth' },
        { service: 'jobs', dependency: 'queue' },
      ],
      message:
        'missing service dependencies: api depends on auth, which is not declared; jobs depends on queue, which is not declared',
    });
    expect(log).toEqual([]);
  });

  it('a cycle is an error before anything starts, with the cycle’s path', async () => {
    const log: string[] = [];
    const services = fleet(log, [
      { name: 'db' },
      { name: 'api', dependsOn: ['auth', 'db'] },
      { name: 'auth', dependsOn: ['sessions'] },
      { name: 'sessions', dependsOn: ['db', 'api'] },
    ]);
    const start = startServices(services, { clock: new VirtualClock() });
    await expect(start).rejects.toBeInstanceOf(DependencyCycleError);
    await expect(start).rejects.toMatchObject({
      code: 'dependency_cycle',
      cycle: ['api', 'auth', 'sessions', 'api'],
      message: 'service dependency cycle: api → auth → sessions → api',
    });
    expect(log).toEqual([]);
    expect(() => planServices(fleet(log, [{ name: 'self', dependsOn: ['self'] }]))).toThrow(
      'service dependency cycle: self → self',
    );
  });

  it('duplicate names and bad definitions are refused', () => {
    expect(() => planServices(fleet([], [{ name: 'a' }, { name: 'a' }]))).toThrow(/two services are named a/);
    expect(() => planServices([{ name: 'x' } as never])).toThrow(/invalid service at index 0: start/);
  });

  it('a service that fails to start stops the ones already started, newest first', async () => {
    const log: string[] = [];
    const events = recordEvents();
    const services = fleet(log, [
      { name: 'db' },
      { name: 'cache' },
      { name: 'api', dependsOn: ['db', 'cache'], failStart: true },
      { name: 'web', dependsOn: ['api'] },
    ]);
    const start = startServices(services, { clock: new VirtualClock(), events });
    await expect(start).rejects.toBeInstanceOf(ServiceStartError);
    await expect(start).rejects.toMatchObject({
      code: 'service_start_failed',
      service: 'api',
      stopped: ['cache', 'db'],
      message: 'service api failed to start: api cannot start; stopped again: cache, db',
    });
    // The failed service is asked to stop too (it may have half-started); web never started.
    expect(log).toEqual(['start db', 'start cache', 'start api', 'stop api', 'stop cache', 'stop db']);
    expect(events.of('service.start_failed')).toEqual([{ service: 'api', error: 'api cannot start' }]);
  });

  it('a start that hangs times out on the injected clock and rolls back', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const services = fleet(log, [
      { name: 'db' },
      { name: 'api', dependsOn: ['db'], hangStart: true, startTimeoutMs: 5000 },
    ]);
    const start = startServices(services, { clock });
    const outcome = start.catch((e: unknown) => e);
    await clock.advance(4999);
    expect(log).toEqual(['start db', 'start api (hangs)']);
    await clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as ServiceStartError).cause).toMatchObject({ code: 'timeout', timeoutMs: 5000 });
    expect(log).toEqual(['start db', 'start api (hangs)', 'stop api', 'stop db']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a service that fails to stop does not keep the others running', async () => {
    const log: string[] = [];
    const running = await startServices(
      fleet(log, [
        { name: 'db' },
        { name: 'api', dependsOn: ['db'], failStop: true },
        { name: 'web', dependsOn: ['api'] },
      ]),
      { clock: new VirtualClock() },
    );
    log.length = 0;
    const stop = running.stop();
    await expect(stop).rejects.toBeInstanceOf(ServiceStopError);
    await expect(stop).rejects.toMatchObject({ code: 'service_stop_failed', failures: [{ service: 'api' }] });
    expect(log).toEqual(['stop web', 'stop api', 'stop db']);
  });

  it('a stop that hangs times out and the next service still stops', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const hanging: ServiceDefinition = {
      name: 'api',
      dependsOn: ['db'],
      stopTimeoutMs: 1000,
      start: () => undefined,
      stop: () => new Promise<void>(() => log.push('stop api (hangs)')),
    };
    const running = await startServices([...fleet(log, [{ name: 'db' }]), hanging], { clock });
    log.length = 0;
    const stop = running.stop().catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await stop).toMatchObject({ failures: [{ service: 'api' }] });
    expect(log).toEqual(['stop api (hangs)', 'stop db']);
  });

  it('orders supervisor child specs the same way', () => {
    const specs = [
      { id: 'agents', needs: ['registry'] },
      { id: 'registry', needs: ['scheduler'] },
      { id: 'scheduler', needs: [] },
    ];
    const ordered = orderByDependencies(specs, { name: (s) => s.id, dependsOn: (s) => s.needs });
    expect(ordered.map((s) => s.id)).toEqual(['scheduler', 'registry', 'agents']);
  });
});
