/**
 * Process identifiers. A `Pid` is a small immutable value; holding one never keeps a dead process's memory
 * alive, and a pid from another runtime never matches a process of this one (pids compare by identity).
 */
export class Pid {
  /** @param id the number the runtime gave the process, unique within that runtime. */
  constructor(readonly id: number) {}

  toString(): string {
    return `<0.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** A process named by its pid or by its registered name. */
export type ProcessRef = Pid | string;

/** A readable form of a ref for error messages. */
export function formatRef(ref: ProcessRef): string {
  return typeof ref === 'string' ? JSON.stringify(ref) : ref.toString();
}
