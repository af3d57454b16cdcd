import { ValidationError } from '../../errors.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { WorkflowDefinition, WorkflowRef } from './types.js';

type Definition = WorkflowDefinition<unknown, unknown>;

/** The workflows an engine knows by name: only their runs can be started or taken over by it. */
export class WorkflowRegistry {
  private readonly defs = new Map<string, Definition>();

  /** Adds definitions; another definition under a registered name is `workflow_conflict`. */
  register(definitions: readonly Definition[]): void {
    for (const def of definitions) {
      const known = this.defs.get(def.name);
      if (known !== undefined && known !== def) {
        throw new WorkflowError(
          WorkflowErrorCode.conflict,
          `another workflow named '${def.name}' is registered already`,
        );
      }
      this.defs.set(def.name, def);
    }
  }

  get(name: string): Definition | undefined {
    return this.defs.get(name);
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  /**
   * The definition a reference names: a registered name (else `workflow_unknown`), or a definition,
   * registered on first use.
   */
  resolve(ref: WorkflowRef<unknown, unknown>): Definition {
    if (typeof ref === 'string') {
      const def = this.defs.get(ref);
      if (def === undefined) {
        throw new WorkflowError(
          WorkflowErrorCode.unknown,
          `no workflow named '${ref}' is registered with this engine`,
          {
            details: { name: ref, registered: [...this.defs.keys()] },
          },
        );
      }
      return def;
    }
    if (typeof ref !== 'object' || ref === null || typeof ref.run !== 'function') {
      throw new ValidationError('expected a workflow made by defineWorkflow, or its name');
    }
    if (!this.defs.has(ref.name)) this.register([ref]);
    return this.defs.get(ref.name) as Definition;
  }
}
