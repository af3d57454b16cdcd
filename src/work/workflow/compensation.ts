/**
 * Compensation: when a run fails or is cancelled, the `compensate` functions of its finished steps run
 * in reverse step order, one at a time, each journaled at index -(i + 1) before the next starts. After a
 * crash the journaled ones are skipped. A failing one is retried per its step's policy; if it still fails,
 * the others run anyway and the failures are reported.
 */
import { errorInfo } from './errors.js';
import type { RunExecution } from './execution.js';
import type { Compensation } from './execution-types.js';
import { retryDelay } from './retry.js';
import type { WorkflowErrorInfo } from './types.js';

/** Runs the compensations of finished steps in reverse step order, each journaled before the next. */
export async function compensate(run: RunExecution): Promise<WorkflowErrorInfo[]> {
  await run.allStepsSettled();
  await run.whenWritten();
  const failures: WorkflowErrorInfo[] = [];
  const compensations = run.compensations ?? new Map<number, Compensation>();
  const order = [...compensations.keys()].sort((a, b) => b - a);
  for (const idx of order) {
    if (run.halted !== undefined) return failures;
    const c = compensations.get(idx) as Compensation;
    const cidx = -(idx + 1);
    const journaled = run.journal.get(cidx);
    if (journaled?.status === 'completed') continue;
    if (journaled?.status === 'failed') {
      failures.push(journaled.error ?? { name: 'Error', message: 'compensation failed' });
      continue;
    }
    const name = `compensate:${c.name}`;
    // Not aborted by the cancellation that started it; only a halt stops it.
    const controller = new AbortController();
    void run.done.then(() => controller.abort());
    for (let attempt = 1; ; attempt++) {
      try {
        await c.fn(c.output, {
          workflowId: run.id,
          stepIndex: cidx,
          idempotencyKey: `${run.id}:compensate:${idx}`,
          attempt,
          signal: controller.signal,
        });
        if (run.halted !== undefined) return failures;
        run.writeStep({
          idx: cidx,
          name,
          kind: 'compensation',
          status: 'completed',
          output: null,
          error: null,
          attempts: attempt,
          dueAt: null,
          detail: null,
        });
        break;
      } catch (error) {
        if (run.halted !== undefined) return failures;
        const max = c.retry?.maxAttempts ?? 1;
        if (attempt < max && (c.retry?.retryIf?.(error) ?? true)) {
          await compensationDelay(run, retryDelay(c.retry, attempt));
          continue;
        }
        const info = errorInfo(error);
        failures.push(info);
        run.writeStep({
          idx: cidx,
          name,
          kind: 'compensation',
          status: 'failed',
          output: null,
          error: JSON.stringify(info),
          attempts: attempt,
          dueAt: null,
          detail: null,
        });
        break;
      }
    }
    await run.whenWritten();
  }
  return failures;
}

function compensationDelay(run: RunExecution, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const handle = run.host.timers.at(run.host.clock.now() + ms, () => {
      run.haltTimers.delete(handle);
      resolve();
    });
    run.haltTimers.add(handle);
  });
}
