/**
 * Leases held by processes of the local runtime. Each holding process has one monitor; when it exits —
 * crash, kill or normal end — every lease it still holds is freed in one committed transaction and the
 * waiters are woken, so a dead holder never blocks anyone until its lease expires. (A whole node that
 * dies frees nothing: its leases expire, or its next boot frees them with `recover`.)
 */
import { ValidationError } from '../../errors.js';
import { NoProcError, type MonitorRef, type Pid } from '../../runtime/index.js';
import type { PrimitivesContext } from './context.js';
import { freeLease, type Lease } from './leases.js';

interface Holding {
  monitor: MonitorRef | undefined;
  readonly leases: Map<string, Lease>;
}

export class ProcessHolds {
  private readonly holdings = new Map<Pid, Holding>();
  private readonly pending = new Set<Promise<void>>();
  private freedOnExit = 0;

  constructor(private readonly ctx: PrimitivesContext) {}

  /** Leases freed because their process exited, since this service started. */
  get releasedOnExit(): number {
    return this.freedOnExit;
  }

  /** Processes holding leases now (one monitor each). */
  get processes(): number {
    return this.holdings.size;
  }

  /** Throws unless `pid` may hold a lease: the service has a runtime and the process is alive. */
  check(pid: Pid): void {
    const runtime = this.ctx.runtime;
    if (runtime === undefined) {
      throw new ValidationError('a process can hold a lease only when the primitives have a runtime');
    }
    if (!runtime.isAlive(pid)) throw new NoProcError(pid, 'a process that is not alive cannot hold a lease');
  }

  /** Watches the process of a lease just taken. */
  add(lease: Lease): void {
    const pid = lease.process;
    const runtime = this.ctx.runtime;
    if (pid === undefined || runtime === undefined) return;
    let holding = this.holdings.get(pid);
    if (holding === undefined) {
      holding = { monitor: undefined, leases: new Map() };
      this.holdings.set(pid, holding);
      holding.leases.set(lease.token, lease);
      // A process that died since the take is reported at once (`noproc`): its lease is freed then.
      holding.monitor = runtime.monitor(pid, () => this.exited(pid), { label: 'coordination leases' });
      return;
    }
    holding.leases.set(lease.token, lease);
  }

  /** Stops watching for `lease` (released, renewed into a new object, or lost). */
  forget(lease: Lease): void {
    const pid = lease.process;
    if (pid === undefined) return;
    const holding = this.holdings.get(pid);
    if (holding === undefined) return;
    holding.leases.delete(lease.token);
    if (holding.leases.size > 0) return;
    this.holdings.delete(pid);
    if (holding.monitor !== undefined) this.ctx.runtime?.demonitor(holding.monitor);
  }

  /** Resolves once every release started by a process exit has committed (or failed). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Releases every monitor; leases stay until released, expired or recovered. */
  close(): void {
    for (const holding of this.holdings.values()) {
      if (holding.monitor !== undefined) this.ctx.runtime?.demonitor(holding.monitor);
    }
    this.holdings.clear();
  }

  private exited(pid: Pid): void {
    const holding = this.holdings.get(pid);
    if (holding === undefined) return;
    this.holdings.delete(pid);
    // In a fixed order, so that two transactions freeing several leases never wait on each other in a cycle.
    const leases = [...holding.leases.values()].sort((x, y) =>
      x.kind === y.kind ? (x.name < y.name ? -1 : x.name > y.name ? 1 : 0) : x.kind < y.kind ? -1 : 1,
    );
    const release = this.ctx.store
      .transaction(async (tx) => {
        let freed = 0;
        for (const lease of leases) {
          if (await freeLease(this.ctx, tx, lease.kind, lease.name, lease.token)) freed++;
        }
        return freed;
      })
      .then(
        (freed) => {
          this.freedOnExit += freed;
        },
        // The leases still expire; the store failure is reported, not left unhandled.
        (error: unknown) => this.ctx.onError(error),
      )
      .finally(() => this.pending.delete(release));
    this.pending.add(release);
  }
}
