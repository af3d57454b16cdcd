/** Runs async tasks one at a time in submission order: SQLite's single writer connection goes through it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(task);
    const settle = () => {
      this.waiting--;
    };
    this.tail = result.then(settle, settle);
    return result;
  }

  /** Tasks queued or running. */
  get depth(): number {
    return this.waiting;
  }

  /** Resolves once every task submitted so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
