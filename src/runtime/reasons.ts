/**
 * Why a process exited. The strings are the reasons the runtime itself gives; `{ error }` is a crash (a
 * handler threw, or a process chose to stop with an error value).
 */
export type ExitReason =
  /** The process finished its work. Links ignore it; transient children are not restarted. */
  | 'normal'
  /** Its supervisor or owner asked it to stop. Like `normal`, not a failure. */
  | 'shutdown'
  /** It was killed (`kill`, or a shutdown timeout ran out); no `terminate` ran. */
  | 'killed'
  /** The process did not exist (monitoring or linking a dead pid). */
  | 'noproc'
  /** A supervisor restarted its children too often and gave up (escalation to its parent). */
  | 'reached_max_restart_intensity'
  /** A crash: the value a handler threw, or the error a process stopped with. */
  | { readonly error: unknown };

/** An exit signal: any reason, or `kill`, which cannot be trapped and ends the process at once. */
export type ExitSignal = ExitReason | 'kill';

/** `normal` and `shutdown` are the reasons that are not failures (transient children stay down). */
export function isNormalExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown';
}

/** One line for messages and logs. */
export function formatReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  const e = reason.error;
  if (e instanceof Error) return `error: ${e.message}`;
  try {
    return `error: ${JSON.stringify(e)}`;
  } catch {
    return `error: ${String(e)}`;
  }
}
