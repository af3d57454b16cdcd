/** In-process wake-up channels: every adapter delivers its own notifications to local listeners. */
export class LocalChannels {
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();

  add(channel: string, fn: (payload: string) => void): () => void {
    let set = this.listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(channel);
    };
  }

  has(channel: string): boolean {
    return this.listeners.has(channel);
  }

  /** Calls every listener of `channel`; one that throws is reported and does not stop the others. */
  emit(channel: string, payload: string): void {
    for (const fn of [...(this.listeners.get(channel) ?? [])]) {
      try {
        fn(payload);
      } catch (error) {
        // A listener's failure is its own: it must not fail the notifier or the connection delivering it.
        process.emitWarning(`a listener on channel "${channel}" threw: ${String(error)}`, 'GarrisonWarning');
      }
    }
  }
}
