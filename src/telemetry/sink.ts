/**
 * The least an emitter needs: somewhere to emit typed events. The event bus is one; a primitive that takes
 * an `EventSink` of a smaller map accepts a bus over a larger one.
 */
import { describeError } from './describe.js';

export interface EventSink<M extends object> {
  // Method syntax on purpose: its parameters are checked bivariantly, so a bus over a larger event map is
  // accepted where a sink of a smaller one is asked for.
  /** Must not throw (the bus never does). */
  emit<K extends keyof M & string>(name: K, payload: M[K]): void;
}

/**
 * Emits through `sink` when one is set. A faulty sink cannot break the emitter: its error is reported as a
 * process warning and the emitter carries on.
 */
export function emitTo<M extends object, K extends keyof M & string>(
  sink: EventSink<M> | undefined,
  name: K,
  payload: M[K],
): void {
  if (sink === undefined) return;
  try {
    sink.emit(name, payload);
  } catch (error) {
    process.emitWarning(`an event sink threw while handling ${name}: ${describeError(error)}`, {
      type: 'GarrisonEventSinkWarning',
      detail: error instanceof Error ? error.stack : undefined,
    });
  }
}
