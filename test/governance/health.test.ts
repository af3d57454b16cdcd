import { describe, expect, it } from 'vitest';
import { HealthCheckExistsError, createHealthChecks } from '../../src/governance/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { recordEvents } from './support.js';

const never = () => new Promise<never>(() => undefined);

describe('health checks', () => {
  it('a system whose checks all pass is healthy', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register({ name: 'a', check: () => undefined });
    health.register({ name: 'b', check: async () => ({ status: 'healthy', details: { n: 1 } }) });
    const summary = await health.run();
    expect(summary).toMatchObject({ status: 'healthy', reasons: [] });
    expect(summary.checks.map((c) => [c.name, c.status])).toEqual([
      ['a', 'healthy'],
      ['b', 'healthy'],
    ]);
    expect(summary.checks[1]?.details).toEqual({ n: 1 });
    expect(health.last()).toBe(summary);
  });

  it('the summary is the worst check, with a reason per failing check', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register({ name: 'ok', check: () => undefined });
    health.register({ name: 'slow', check: () => ({ status: 'degraded', reason: 'p99 high' }) });
    expect(await health.run()).toMatchObject({ status: 'degraded', reasons: ['slow: p99 high'] });
    health.register({
      name: 'db',
      check: async () => {
        throw new Error('connection refused');
      },
    });
    expect(await health.run()).toMatchObject({
      status: 'unhealthy',
      reasons: ['slow: p99 high', 'db: connection refused'],
    });
  });

  it('a failing non-critical check only degrades the system', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register({
      name: 'cache',
      critical: false,
      check: () => ({ status: 'unhealthy', reason: 'down' }),
    });
    const summary = await health.run();
    expect(summary.status).toBe('degraded');
    expect(summary.checks[0]).toMatchObject({ status: 'unhealthy', critical: false, reason: 'down' });
  });

  it('a check that hangs is unhealthy with reason timeout, on the injected clock, and its signal aborts', async () => {
    const clock = new VirtualClock();
    const health = createHealthChecks({ clock, defaultTimeoutMs: 5000 });
    let signal: AbortSignal | undefined;
    health.register({
      name: 'store',
      timeoutMs: 2000,
      check: (s) => {
        signal = s;
        return never();
      },
    });
    health.register({ name: 'other', check: () => undefined });
    const running = health.run();
    let done = false;
    void running.then(() => (done = true));
    await clock.advance(1999);
    expect(done).toBe(false);
    await clock.advance(1);
    const summary = await running;
    expect(summary).toMatchObject({ status: 'unhealthy', reasons: ['store: timeout after 2000 ms'] });
    expect(summary.checks[0]).toMatchObject({ durationMs: 2000 });
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a hung check is not started again until its run settles', async () => {
    const clock = new VirtualClock();
    const health = createHealthChecks({ clock });
    let calls = 0;
    let release: () => void = () => undefined;
    health.register({
      name: 'hangs',
      timeoutMs: 100,
      check: () => {
        calls++;
        // The first run hangs until released; later runs answer at once.
        return calls > 1 ? undefined : new Promise<void>((resolve) => (release = resolve));
      },
    });
    const first = health.run();
    await clock.advance(100);
    await first;
    await clock.advance(400);
    const second = await health.run();
    expect(calls).toBe(1);
    expect(second.checks[0]?.reason).toBe('timeout: the previous run is still going after 500 ms');
    release();
    await clock.advance(0);
    expect((await health.run()).status).toBe('healthy');
    expect(calls).toBe(2);
  });

  it('concurrent runs share one execution of each check', async () => {
    const clock = new VirtualClock();
    const health = createHealthChecks({ clock });
    let calls = 0;
    health.register({
      name: 'c',
      check: async () => {
        calls++;
        await Promise.resolve();
      },
    });
    const [a, b] = await Promise.all([health.run(), health.run()]);
    expect(calls).toBe(1);
    expect(a.status).toBe('healthy');
    expect(b.status).toBe('healthy');
  });

  it('a check that returns something that is not a result is reported unhealthy', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register({ name: 'odd', check: () => ({ status: 'fine' }) as never });
    expect((await health.run()).reasons[0]).toMatch(/odd: the check returned no valid status/);
  });

  it('reports changes of the system status as health.changed events', async () => {
    const events = recordEvents();
    const health = createHealthChecks({ clock: new VirtualClock(), events });
    let status: 'healthy' | 'degraded' = 'healthy';
    health.register({ name: 'x', check: () => ({ status, reason: status }) });
    await health.run();
    await health.run();
    status = 'degraded';
    await health.run();
    expect(events.of('health.changed')).toEqual([
      { from: undefined, to: 'healthy', reasons: [] },
      { from: 'healthy', to: 'degraded', reasons: ['x: degraded'] },
    ]);
  });

  it('names are unique; bad specs and unknown names are refused; checks can be removed', async () => {
    const health = createHealthChecks({ clock: new VirtualClock() });
    health.register({ name: 'a', check: () => undefined });
    expect(() => health.register({ name: 'a', check: () => undefined })).toThrow(HealthCheckExistsError);
    expect(() => health.register({ name: '', check: () => undefined })).toThrow(/name/);
    expect(() => health.register({ name: 'b', check: () => undefined, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createHealthChecks({ defaultTimeoutMs: -1 })).toThrow(/defaultTimeoutMs/);
    await expect(health.runOne('zzz')).rejects.toThrow(/no health check named zzz/);
    expect(health.names()).toEqual(['a']);
    expect(await health.runOne('a')).toMatchObject({ name: 'a', status: 'healthy' });
    expect(health.unregister('a')).toBe(true);
    expect((await health.run()).status).toBe('healthy');
  });
});
