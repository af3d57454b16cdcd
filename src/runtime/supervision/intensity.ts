/**
 * Counts restarts in a sliding window of the runtime clock. More than `maxRestarts` within `periodMs` means
 * the children keep failing for a reason a restart does not fix, so the supervisor gives up and lets its
 * parent decide (escalation) instead of looping.
 */
export class RestartIntensity {
  private stamps: number[] = [];

  constructor(
    readonly maxRestarts: number,
    readonly periodMs: number,
  ) {}

  /** Records a restart at `now`; false when it exceeds the intensity (the supervisor must exit). */
  record(now: number): boolean {
    const since = now - this.periodMs;
    this.stamps = this.stamps.filter((t) => t > since);
    this.stamps.push(now);
    return this.stamps.length <= this.maxRestarts;
  }
}
