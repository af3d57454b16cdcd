/**
 * SIGTERM and SIGINT for the long-running commands (`worker`, `serve`, `dev`), watched from the moment a
 * node begins to start. Node terminates a process on a signal that has no listener yet: a SIGTERM sent
 * as soon as a command reported ready — before its drain handler was installed — once killed a worker
 * outright, so nothing was handed back. Watching before the store is opened closes that window, and a
 * signal that arrives while the node is still starting is kept: the node drains as soon as it is up.
 */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

export interface StopSignals {
  /** Resolves with the first stop signal (at once if one already arrived). */
  readonly first: Promise<NodeJS.Signals>;
  /** The first stop signal, if one arrived. */
  received(): NodeJS.Signals | undefined;
  /** The node is up and waits for the signal: from now on a signal starts its drain at once. */
  ready(): void;
}

let watching: StopSignals | undefined;

/**
 * Starts watching (once per process; later calls return the same watch). The first signal resolves
 * `first`; a second one exits at once with 130, for an operator who does not want to wait for the drain.
 */
export function watchStopSignals(): StopSignals {
  if (watching !== undefined) return watching;
  let got: NodeJS.Signals | undefined;
  let up = false;
  let resolve!: (signal: NodeJS.Signals) => void;
  const first = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (got !== undefined) process.exit(130);
    got = signal;
    if (!up)
      process.stderr.write(`garrison: ${signal} while starting; the node drains as soon as it is up\n`);
    resolve(signal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  watching = { first, received: () => got, ready: () => void (up = true) };
  return watching;
}
