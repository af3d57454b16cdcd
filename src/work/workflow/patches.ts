/**
 * `ctx.patched(changeId)`: changing a workflow's code while runs of it are unfinished. A run replays its
 * journal on the code it finds, so a new step placed where old runs journaled something else would be
 * `non_determinism`. `patched` journals a marker the first time a run reaches it on the new code and
 * answers true; a run whose journal shows that it passed this point on the old code (another entry sits
 * at this index) gets false and goes on down the old path, its journal untouched. The answer is
 * journaled, so every later replay takes the same branch.
 *
 *   if (ctx.patched('review-before-shipping')) await ctx.step('review', review);
 *
 * Once no run that took the old path is left, `ctx.deprecatePatch(changeId)` replaces the call (and the
 * old branch goes): it consumes the marker of runs that journaled it and is nothing for new runs.
 */
import { ValidationError } from '../../errors.js';
import type { RunExecution } from './execution.js';

/** Journal names of patch markers: a step name no `ctx.step` of a user is expected to take. */
const MARKER = 'garrison.patch:';
const CHANGE_ID = /^[A-Za-z0-9_.:-]{1,150}$/;

function markerName(changeId: unknown, what: string): string {
  if (typeof changeId !== 'string' || !CHANGE_ID.test(changeId))
    throw new ValidationError(
      `${what} needs a change id of 1 to 150 letters, digits and _ . : -, got ${JSON.stringify(changeId)}`,
    );
  return `${MARKER}${changeId}`;
}

export function patched(run: RunExecution, changeId: unknown): boolean {
  const name = markerName(changeId, 'ctx.patched');
  const idx = run.nextIdx;
  const entry = run.journal.get(idx);
  if (entry !== undefined) {
    if (entry.kind !== 'step' || entry.name !== name) return false; // passed here on the old code
    run.nextIdx++;
    return true;
  }
  run.nextIdx++;
  run.journal.set(idx, {
    idx,
    name,
    kind: 'step',
    status: 'completed',
    output: true,
    error: undefined,
    attempts: 1,
    dueAt: undefined,
    detail: undefined,
  });
  run.writeStep({
    idx,
    name,
    kind: 'step',
    status: 'completed',
    output: 'true',
    error: null,
    attempts: 1,
    dueAt: null,
    detail: null,
    startedAt: run.host.clock.now(),
  });
  return true;
}

export function deprecatePatch(run: RunExecution, changeId: unknown): void {
  const name = markerName(changeId, 'ctx.deprecatePatch');
  const entry = run.journal.get(run.nextIdx);
  if (entry?.kind === 'step' && entry.name === name) run.nextIdx++;
}
