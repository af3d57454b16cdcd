/**
 * Supervised send over real runtime processes and the virtual clock: one monitored call per attempt,
 * retries with backoff on the clock, and the explicit on-error policies `return` and `log` (the durable
 * `dead_letter` policy is in supervised-dead-letter.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  createSupervisedSender,
  type DeadLetterQueue,
  type SupervisedSendTelemetry,
} from '../../src/messaging/index.js';
import { exponentialBackoff, fixedDelay } from '../../src/resilience/index.js';
import {
  Supervisor,
  VirtualClock,
  createRuntime,
  type Behaviour,
  type CallResult,
  type Runtime,
} from '../../src/runtime/index.js';
import { createEventBus, type LogFields, type Logger } from '../../src/telemetry/index.js';

type Call = { op: 'work'; id: string } | { op: 'hang' } | { op: 'crash' } | { op: 'count' };

/**
 * A worker: `work` replies `done <id>` unless the shared `crashes` budget says to crash first; `hang`
 * never replies; `count` tells how many calls it has handled since it started.
 */
function workerBehaviour(shared: { crashes: number; calls: number }): Behaviour<number, void> {
  return {
    init: () => 0,
    handleCall(msg: Call, _from, state): CallResult<number> {
      shared.calls++;
      switch (msg.op) {
        case 'work':
          if (shared.crashes > 0) {
            shared.crashes--;
            throw new Error(`crashed while handling ${msg.id}`);
          }
          return { reply: `done ${msg.id}`, state: state + 1 };
        case 'hang':
          return { noreply: true, state };
        case 'crash':
          throw new Error('asked to crash');
        case 'count':
          return { reply: state, state };
      }
    },
  };
}

/** A behaviour without handleCall: any call crashes it with bad_message. */
const deaf: Behaviour<null, void> = { init: () => null, handleCast: (_m, s) => s };

interface LogLine {
  level: string;
  message: string;
  fields: LogFields | undefined;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, fields });
  };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

async function setup() {
  const clock = new VirtualClock();
  const runtime = createRuntime({ clock });
  const bus = createEventBus<SupervisedSendTelemetry>({ clock });
  const seen: Array<{ name: string; payload: unknown }> = [];
  bus.on('*', (e) => {
    seen.push({ name: e.name, payload: e.payload });
  });
  const lines: LogLine[] = [];
  const sender = createSupervisedSender({ runtime, clock, logger: recordingLogger(lines), events: bus });
  return { clock, runtime, sender, seen, lines };
}

/** A supervisor restarting the worker registered as `worker`. */
async function supervisedWorker(runtime: Runtime, shared: { crashes: number; calls: number }) {
  return Supervisor.start(runtime, {
    id: 'workers',
    maxRestarts: 10,
    children: [
      {
        id: 'worker',
        start: (o) => runtime.spawn(workerBehaviour(shared), undefined, { ...o, name: 'worker' }),
      },
    ],
  });
}

describe('supervised send', () => {
  it('a successful send returns the reply and the number of attempts it took', async () => {
    const { runtime, sender } = await setup();
    await runtime.spawn(workerBehaviour({ crashes: 0, calls: 0 }), undefined, { name: 'worker' });
    await expect(
      sender.send('worker', { op: 'work', id: 'a' }, { timeoutMs: 1000, onError: 'return' }),
    ).resolves.toEqual({ ok: true, reply: 'done a', attempts: 1 });
  });

  it('a send to a process that dies mid-call fails at once with its exit reason and is retried', async () => {
    const { clock, runtime, sender, seen } = await setup();
    const shared = { crashes: 1, calls: 0 };
    await supervisedWorker(runtime, shared);
    const first = runtime.whereis('worker');
    const start = clock.now();
    let settled = false;
    const sending = sender
      .send(
        'worker',
        { op: 'work', id: 'job-1' },
        {
          timeoutMs: 60_000,
          retry: fixedDelay({ maxAttempts: 3, delayMs: 100 }),
          onError: 'return',
        },
      )
      .finally(() => (settled = true));
    await clock.advance(0);
    // The first attempt failed at once with the crash, not at the 60 s timeout: only the backoff is left.
    expect(seen).toMatchObject([
      {
        name: 'retry.scheduled',
        payload: { operation: 'supervised_send', attempt: 1, delayMs: 100, errorCode: 'process_exited' },
      },
    ]);
    expect((seen[0]?.payload as { error: string }).error).toContain('crashed while handling job-1');
    expect(settled).toBe(false);
    await clock.advance(100);
    expect(settled).toBe(true);
    await expect(sending).resolves.toEqual({ ok: true, reply: 'done job-1', attempts: 2 });
    expect(clock.now() - start).toBe(100);
    // The second attempt reached the process the supervisor started in place of the crashed one.
    expect(runtime.whereis('worker')).not.toBe(first);
    expect(shared.calls).toBe(2);
  });

  it('a send that gets no reply is retried with exponential backoff on the clock, then returns call_timeout', async () => {
    const { clock, runtime, sender, seen } = await setup();
    await runtime.spawn(workerBehaviour({ crashes: 0, calls: 0 }), undefined, { name: 'worker' });
    const start = clock.now();
    const sending = sender.send(
      'worker',
      { op: 'hang' },
      {
        timeoutMs: 1000,
        retry: exponentialBackoff({ maxAttempts: 3, initialDelayMs: 100, multiplier: 2, jitter: 'none' }),
        onError: 'return',
      },
    );
    await clock.runAll();
    const result = await sending;
    expect(result).toMatchObject({ ok: false, attempts: 3, error: { code: 'call_timeout' } });
    // Three timeouts of 1000 ms with waits of 100 and 200 ms between them.
    expect(clock.now() - start).toBe(3300);
    expect(
      seen.filter((e) => e.name === 'retry.scheduled').map((e) => (e.payload as { delayMs: number }).delayMs),
    ).toEqual([100, 200]);
    expect(seen).toContainEqual({
      name: 'retry.gave_up',
      payload: expect.objectContaining({
        operation: 'supervised_send',
        attempts: 3,
        reason: 'exhausted',
      }) as unknown,
    });
  });

  it('a send to a pid whose process is gone is not retried: a pid never comes back', async () => {
    const { runtime, sender } = await setup();
    const pid = await runtime.spawn(workerBehaviour({ crashes: 0, calls: 0 }), undefined);
    await runtime.stop(pid);
    const result = await sender.send(
      pid,
      { op: 'work', id: 'x' },
      {
        retry: fixedDelay({ maxAttempts: 5, delayMs: 10 }),
        onError: 'return',
      },
    );
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: 'noproc' } });
  });

  it('a send to a pid that dies mid-call is not retried either; the exit reason is the error', async () => {
    const { runtime, sender } = await setup();
    const pid = await runtime.spawn(workerBehaviour({ crashes: 1, calls: 0 }), undefined);
    const result = await sender.send(
      pid,
      { op: 'work', id: 'y' },
      {
        retry: fixedDelay({ maxAttempts: 5, delayMs: 10 }),
        onError: 'return',
      },
    );
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: 'process_exited' } });
    if (result.ok) throw new Error('expected a failure');
    expect((result.error.cause as Error).message).toBe('crashed while handling y');
  });

  it('a send to a name nobody has yet is retried until a process registers under it', async () => {
    const { clock, runtime, sender } = await setup();
    const sending = sender.send(
      'late',
      { op: 'work', id: 'z' },
      {
        retry: fixedDelay({ maxAttempts: 3, delayMs: 500 }),
        onError: 'return',
      },
    );
    await clock.advance(0);
    await runtime.spawn(workerBehaviour({ crashes: 0, calls: 0 }), undefined, { name: 'late' });
    await clock.advance(500);
    await expect(sending).resolves.toEqual({ ok: true, reply: 'done z', attempts: 2 });
  });

  it('a message the process has no handler for (bad_message) is not retried: it would crash it again', async () => {
    const { runtime, sender } = await setup();
    await runtime.spawn(deaf, undefined, { name: 'deaf' });
    const result = await sender.send('deaf', 'hello', {
      retry: fixedDelay({ maxAttempts: 5, delayMs: 10 }),
      onError: 'return',
    });
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: 'process_exited' } });
  });

  it("a policy's own isRetryable decides instead of the default", async () => {
    const { clock, runtime, sender } = await setup();
    await runtime.spawn(workerBehaviour({ crashes: 0, calls: 0 }), undefined, { name: 'worker' });
    const sending = sender.send(
      'worker',
      { op: 'hang' },
      {
        timeoutMs: 1000,
        retry: fixedDelay({ maxAttempts: 5, delayMs: 10, isRetryable: () => false }),
        onError: 'return',
      },
    );
    await clock.runAll();
    await expect(sending).resolves.toMatchObject({ ok: false, attempts: 1, error: { code: 'call_timeout' } });
  });

  it('an aborted signal ends the retries between attempts with retry_aborted', async () => {
    const { clock, sender } = await setup();
    const controller = new AbortController();
    const sending = sender.send(
      'nobody',
      { op: 'work', id: 'q' },
      {
        retry: fixedDelay({ maxAttempts: 5, delayMs: 1000 }),
        onError: 'return',
        signal: controller.signal,
      },
    );
    await clock.advance(0);
    controller.abort(new Error('shutting down'));
    await expect(sending).resolves.toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: 'retry_aborted' },
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it("onError 'return' hands back the error and does nothing else: no log line, no dead letter", async () => {
    const { sender, lines, seen } = await setup();
    const result = await sender.send('nobody', { op: 'work', id: 'r' }, { onError: 'return' });
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: 'noproc' } });
    expect(result).not.toHaveProperty('deadLetterId');
    expect(lines).toEqual([]);
    expect(seen).toContainEqual({
      name: 'message.send_failed',
      payload: {
        target: 'nobody',
        attempts: 1,
        onError: 'return',
        errorCode: 'noproc',
        error: expect.any(String) as unknown,
      },
    });
  });

  it("onError 'log' logs the failure at error level with target, attempts and code, and returns it too", async () => {
    const { clock, sender, lines } = await setup();
    const sending = sender.send(
      'nobody',
      { op: 'work', id: 's' },
      {
        retry: fixedDelay({ maxAttempts: 2, delayMs: 50 }),
        onError: 'log',
      },
    );
    await clock.runAll();
    const result = await sending;
    expect(result).toMatchObject({ ok: false, attempts: 2, error: { code: 'noproc' } });
    expect(lines).toEqual([
      {
        level: 'error',
        message: 'supervised send failed',
        fields: { target: 'nobody', attempts: 2, code: 'noproc', err: result.ok ? undefined : result.error },
      },
    ]);
  });

  it("onError 'log' without a logger, and 'dead_letter' without a queue, are refused before anything is sent", async () => {
    const clock = new VirtualClock();
    const runtime = createRuntime({ clock });
    const shared = { crashes: 0, calls: 0 };
    await runtime.spawn(workerBehaviour(shared), undefined, { name: 'worker' });
    const sender = createSupervisedSender({ runtime });
    await expect(sender.send('worker', { op: 'work', id: 't' }, { onError: 'log' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('logger') as unknown,
    });
    await expect(
      sender.send('worker', { op: 'work', id: 't' }, { onError: 'dead_letter' }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('dead-letter') as unknown,
    });
    expect(shared.calls).toBe(0);
  });

  it('bad targets and options are refused with invalid_input and nothing is sent', async () => {
    const { runtime, sender } = await setup();
    const shared = { crashes: 0, calls: 0 };
    await runtime.spawn(workerBehaviour(shared), undefined, { name: 'worker' });
    const bad: unknown[] = [
      {},
      { onError: 'ignore' },
      { onError: 'return', timeoutMs: -1 },
      { onError: 'return', retry: { maxAttempts: 0, delayMs: () => 0 } },
      { onError: 'return', unknownOption: true },
    ];
    for (const options of bad) {
      await expect(
        sender.send('worker', { op: 'work', id: 'u' }, options as { onError: 'return' }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
    }
    await expect(sender.send('', 'x', { onError: 'return' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(shared.calls).toBe(0);
  });

  it('a dead letter that cannot be recorded is reported in the result and the log, never silently', async () => {
    const clock = new VirtualClock();
    const runtime = createRuntime({ clock });
    const lines: LogLine[] = [];
    const storeDown = new Error('store unreachable');
    const deadLetters = {
      record: () => Promise.reject(storeDown),
    } as unknown as DeadLetterQueue;
    const sender = createSupervisedSender({ runtime, deadLetters, logger: recordingLogger(lines) });
    const result = await sender.send('nobody', { op: 'work', id: 'v' }, { onError: 'dead_letter' });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: 'noproc' },
      deadLetterError: storeDown,
    });
    expect(result).not.toHaveProperty('deadLetterId');
    expect(lines).toMatchObject([
      { level: 'error', message: expect.stringContaining('could not be dead-lettered') as unknown },
    ]);
  });
});
