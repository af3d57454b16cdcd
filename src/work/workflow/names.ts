import { ValidationError } from '../../errors.js';
import type { WorkflowErrorInfo } from './types.js';

/** What a failure without a journaled error is reported as. */
export const UNKNOWN_ERROR: WorkflowErrorInfo = { name: 'Error', message: 'unknown error' };

/** Checks a step, signal or capability name at the context's boundary. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ValidationError(`${what} needs a name of 1 to 200 characters, got ${JSON.stringify(name)}`);
  }
  return name;
}
