/** The registry's subscribers. Events reach them only through `emit`, which runs after a commit. */
import type { RegistryEvent, RegistryListener } from './types.js';

export class Watchers {
  private readonly listeners = new Set<RegistryListener>();

  /** Adds a listener; the returned function removes it (calling it again is a no-op). */
  add(listener: RegistryListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is told twice and removed once.
    const entry: RegistryListener = (event) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(event: RegistryEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One failing subscriber must neither hide the change from the others nor undo a commit.
        process.emitWarning(
          `a registry watcher threw on a ${event.type} event for ${event.agent.id}: ${String(error)}`,
          'GarrisonWarning',
        );
      }
    }
  }
}
