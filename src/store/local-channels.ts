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

  emit(channel: string, payload: string): void {
    for (const fn of this.listeners.get(channel) ?? []) fn(payload);
  }
}
