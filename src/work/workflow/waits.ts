/** `ctx.sleep`, `ctx.sleepUntil` and `ctx.waitForSignal`: durable waits. */
import { ValidationError } from '../../errors.js';
import { Attr, SpanName, traceWait } from '../../telemetry/index.js';
import type { RunExecution } from './execution.js';
import type { SignalRecord } from './runs.js';
import type { WaitForSignalOptions } from './types.js';

export async function sleepUntil(run: RunExecution, dueAtIfNew: number): Promise<void> {
  const idx = run.nextIdx++;
  const entry = run.replayed(idx, 'sleep', 'sleep');
  let dueAt: number;
  if (entry !== undefined) {
    dueAt = entry.dueAt ?? 0;
    if (dueAt <= run.host.clock.now()) {
      if (entry.status !== 'completed') sleepEnded(run, idx, dueAt);
      return;
    }
    await run.boundary();
    run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
  } else {
    await run.boundary();
    dueAt = dueAtIfNew;
    run.writeStep({
      idx,
      name: 'sleep',
      kind: 'sleep',
      status: dueAt <= run.host.clock.now() ? 'completed' : 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt,
      detail: null,
    });
    if (dueAt <= run.host.clock.now()) return;
    run.writePatch({ status: 'sleeping', wakeAt: dueAt }, false);
    // The wake-up time is durable before the run starts sleeping.
    await run.boundary();
  }
  await traceWait(run, SpanName.sleep, waitAttributes(run, 'sleep', idx), () =>
    run.wait(idx, 'sleep', dueAt),
  );
  run.writePatch({ status: 'running', wakeAt: null }, false);
  sleepEnded(run, idx, dueAt);
}

/** Marks a sleep's entry completed: the timeline shows when it ended (a replay needs only its due time). */
function sleepEnded(run: RunExecution, idx: number, dueAt: number): void {
  run.writeStep({
    idx,
    name: 'sleep',
    kind: 'sleep',
    status: 'completed',
    output: null,
    error: null,
    attempts: 1,
    dueAt,
    detail: null,
  });
}

/** A wait span's attributes, built only when tracing is on. */
export const waitAttributes = (run: RunExecution, name: string, idx: number) => () => ({
  [Attr.runId]: run.id,
  [Attr.workflow]: run.def.name,
  [Attr.stepName]: name,
  [Attr.stepIndex]: idx,
});

function signalValue(output: unknown): unknown {
  const o = output as { timedOut?: boolean; data?: unknown } | undefined;
  return o === undefined || o.timedOut === true ? undefined : o.data;
}

function consumeSignal(run: RunExecution, idx: number, name: string, signal: SignalRecord): unknown {
  const output = { seq: signal.seq, data: signal.data };
  run.journal.set(idx, {
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output,
    error: undefined,
    attempts: 1,
    dueAt: undefined,
    detail: undefined,
  });
  run.writeStep({
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output: JSON.stringify(output),
    error: null,
    attempts: 1,
    dueAt: null,
    detail: null,
  });
  return signal.data;
}

export async function waitForSignal(
  run: RunExecution,
  name: string,
  options: WaitForSignalOptions | undefined,
): Promise<unknown> {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    throw new ValidationError(
      `ctx.waitForSignal timeoutMs must be a non-negative number of ms, got ${timeoutMs}`,
    );
  }
  const idx = run.nextIdx++;
  const entry = run.replayed(idx, name, 'signal');
  if (entry?.status === 'completed') return signalValue(entry.output);
  await run.boundary();
  let dueAt = entry?.dueAt;
  if (entry === undefined) {
    const early = run.takeSignal(name);
    if (early !== undefined) return consumeSignal(run, idx, name, early);
    dueAt = timeoutMs === undefined ? undefined : run.host.clock.now() + timeoutMs;
    run.journal.set(idx, {
      idx,
      name,
      kind: 'signal',
      status: 'pending',
      output: undefined,
      error: undefined,
      attempts: 1,
      dueAt,
      detail: { name },
    });
    run.writeStep({
      idx,
      name,
      kind: 'signal',
      status: 'pending',
      output: null,
      error: null,
      attempts: 1,
      dueAt: dueAt ?? null,
      detail: JSON.stringify({ name }),
    });
    run.writePatch({ status: 'waiting', wakeAt: dueAt ?? null }, false);
    await run.boundary();
  } else {
    run.writePatch({ status: 'waiting', wakeAt: dueAt ?? null }, false);
  }
  // Checked again right before waiting: a signal may have arrived while the entry was being written.
  const arrived = run.takeSignal(name);
  if (arrived !== undefined) {
    run.writePatch({ status: 'running', wakeAt: null }, false);
    return consumeSignal(run, idx, name, arrived);
  }
  const result = await traceWait(run, SpanName.signalWait, waitAttributes(run, name, idx), () =>
    run.wait(idx, 'signal', dueAt, name),
  );
  run.writePatch({ status: 'running', wakeAt: null }, false);
  if (result.kind === 'signal') return consumeSignal(run, idx, name, result.signal);
  const output = { timedOut: true };
  run.journal.set(idx, {
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output,
    error: undefined,
    attempts: 1,
    dueAt,
    detail: { name },
  });
  run.writeStep({
    idx,
    name,
    kind: 'signal',
    status: 'completed',
    output: JSON.stringify(output),
    error: null,
    attempts: 1,
    dueAt: dueAt ?? null,
    detail: null,
  });
  return undefined;
}
