import { Pid, type ProcessRef } from './pid.js';
import type { Proc } from './process.js';

/** Live processes by pid and by registered name. */
export class ProcessTable {
  private readonly byId = new Map<number, Proc>();
  private readonly byName = new Map<string, Proc>();
  private next = 1;

  get size(): number {
    return this.byId.size;
  }

  nextPid(): Pid {
    return new Pid(this.next++);
  }

  nameTaken(name: string): boolean {
    return this.byName.has(name);
  }

  add(proc: Proc): void {
    this.byId.set(proc.pid.id, proc);
    if (proc.name !== undefined) this.byName.set(proc.name, proc);
  }

  remove(proc: Proc): void {
    this.byId.delete(proc.pid.id);
    if (proc.name !== undefined && this.byName.get(proc.name) === proc) this.byName.delete(proc.name);
  }

  /** Pids compare by identity: a pid from another runtime never finds a process here. */
  lookup(ref: ProcessRef): Proc | undefined {
    if (typeof ref === 'string') return this.byName.get(ref);
    const p = this.byId.get(ref.id);
    return p !== undefined && p.pid === ref ? p : undefined;
  }

  has(pid: Pid): boolean {
    return this.lookup(pid) !== undefined;
  }

  /** In spawn order. */
  all(): Proc[] {
    return [...this.byId.values()];
  }
}
