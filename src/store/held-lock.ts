import type { StoreLock } from './types.js';

/** The lock object both adapters hand out; the adapter says how to release it and when it is lost. */
export class HeldLock implements StoreLock {
  private state: 'held' | 'released' | 'lost' = 'held';
  private readonly lostFns: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly onRelease: (lock: HeldLock) => Promise<void>,
  ) {}

  get held(): boolean {
    return this.state === 'held';
  }

  onLost(fn: () => void): void {
    if (this.state === 'lost') queueMicrotask(fn);
    else if (this.state === 'held') this.lostFns.push(fn);
  }

  async release(): Promise<void> {
    if (this.state !== 'held') return;
    this.state = 'released';
    this.lostFns.length = 0;
    await this.onRelease(this);
  }

  /** The adapter lost it (connection or store closed): tell whoever listens. */
  lose(): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    for (const fn of this.lostFns.splice(0)) {
      try {
        fn();
      } catch (error) {
        process.emitWarning(
          `a lost-lock callback for "${this.name}" threw: ${String(error)}`,
          'GarrisonWarning',
        );
      }
    }
  }
}
