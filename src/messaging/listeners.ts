/**
 * A small typed event emitter. A listener that throws must not break the code that emitted the event,
 * and must not vanish either: its error is raised as a process warning.
 */
export type Listener<T> = (event: T) => void;

export class Listeners<Events extends object> {
  private readonly byName = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.byName.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** True when at least one listener is registered for `name`. */
  has(name: keyof Events): boolean {
    return (this.byName.get(name)?.size ?? 0) > 0;
  }

  /** Calls every listener of `name`; returns how many were called. */
  emit<K extends keyof Events>(name: K, event: Events[K]): number {
    const set = this.byName.get(name);
    if (set === undefined) return 0;
    let called = 0;
    for (const listener of [...set]) {
      called++;
      try {
        (listener as Listener<Events[K]>)(event);
      } catch (error) {
        process.emitWarning(`a "${String(name)}" listener threw: ${describe(error)}`, 'GarrisonWarning');
      }
    }
    return called;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
