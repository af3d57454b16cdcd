/** Live progress of the demo: a compact table redrawn in place on a terminal, a line per tick otherwise. */
import type { DemoSummary } from './summary.js';

export interface ProgressView {
  readonly summary: DemoSummary;
  /** Runs not yet finished that are executing now. */
  readonly running: number;
  /** The breaker of the external service, when this process can see it. */
  readonly breaker?: { readonly state: string; readonly failures: number; readonly rejected: number };
  readonly note?: string;
}

function bar(done: number, total: number, width = 28): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function renderProgress(view: ProgressView): string[] {
  const w = view.summary.workflows;
  const done = w.completed + w.failed + w.cancelled;
  const agents = Object.entries(view.summary.tasksPerAgent)
    .map(([id, n]) => `${id} ${n}`)
    .join('  ');
  const lines = [
    `workflows ${bar(done, w.total)} ${done}/${w.total}  completed ${w.completed}  running ${view.running}  failed ${w.failed}`,
    `steps     ${view.summary.steps.completed} journaled, ${view.summary.steps.effects} effects, ${view.summary.steps.repeats} redeliveries deduplicated`,
    `agents    ${agents === '' ? '-' : agents}`,
  ];
  if (view.breaker !== undefined)
    lines.push(
      `breaker   payments: ${view.breaker.state}  (${view.breaker.failures} failed calls, ${view.breaker.rejected} rejected while open)`,
    );
  if (view.note !== undefined) lines.push(view.note);
  return lines;
}

/** Writes frames: in place on a TTY (cursor up and clear), appended otherwise. */
export class ProgressWriter {
  private lastLines = 0;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly enabled: boolean,
  ) {}

  frame(lines: readonly string[]): void {
    if (!this.enabled) return;
    if (this.out.isTTY === true && this.lastLines > 0) this.out.write(`\x1b[${this.lastLines}A\x1b[J`);
    this.out.write(`${lines.join('\n')}\n`);
    this.lastLines = this.out.isTTY === true ? lines.length : 0;
  }
}
