import { ValidationError } from '../../errors.js';
import type { ProcessContext } from '../behaviour.js';
import { isRuntimeError } from '../errors.js';
import { Pid } from '../pid.js';
import type { ExitReason } from '../reasons.js';
import type { Runtime } from '../runtime.js';
import type { ResolvedChildSpec, ChildShutdown } from './spec.js';

/**
 * Starts a child and makes sure it is linked to the supervisor. A `start` that passed the options to
 * `spawn` is linked already; otherwise it is linked here — and if it died in between, the supervisor
 * (which traps exits) gets an EXIT with `noproc` and treats it as a failed child.
 */
export async function startChild(ctx: ProcessContext, spec: ResolvedChildSpec): Promise<Pid> {
  const pid = await spec.start({ link: ctx.self });
  if (!(pid instanceof Pid)) throw new ValidationError(`start of child ${spec.id} must resolve to a Pid`);
  ctx.link(pid);
  return pid;
}

/**
 * Stops a child: unlinks it (its exit is expected, not a failure to react to), asks it to stop with
 * `shutdown` and kills it if its `terminate` outlasts the shutdown time. Resolves with its exit reason.
 */
export async function shutdownChild(
  rt: Runtime,
  supervisor: Pid,
  child: Pid,
  shutdown: ChildShutdown,
): Promise<ExitReason> {
  rt.unlink(supervisor, child);
  if (shutdown === 'brutal_kill') {
    const gone = new Promise<ExitReason>((resolve) => {
      rt.monitor(child, (d) => resolve(d.reason), { label: 'shutdown' });
    });
    rt.kill(child);
    return gone;
  }
  try {
    return await rt.stop(child, 'shutdown', { timeoutMs: shutdown === 'infinity' ? Infinity : shutdown });
  } catch (error) {
    if (isRuntimeError(error, 'noproc')) return 'noproc'; // it was already gone
    throw error;
  }
}
