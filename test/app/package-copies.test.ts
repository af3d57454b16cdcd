/**
 * Two copies of the package in one process — a globally installed CLI running an app that imports its
 * own copy — must agree on what crosses between them: the errors an action or a step throws and an
 * action's result with directives. The second copy here is the transpiled one the test run's child
 * processes use (a different module URL, so different classes). The whole path (a worker from that copy
 * running the demo app loaded from the sources) is run by `test/cli/subprocess-node.test.ts`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { ActionResult, withDirectives } from '../../src/agents/action.js';
import { AgentError } from '../../src/agents/errors.js';
import { GarrisonError, isPermanentError, PermanentError, ValidationError } from '../../src/errors.js';

type Errors = typeof import('../../src/errors.js');
type Actions = typeof import('../../src/agents/action.js');

function copyOf<T>(path: string): Promise<T> {
  return import(pathToFileURL(join(inject('childBuild'), path)).href) as Promise<T>;
}

describe('two copies of the package in one process', () => {
  it('take each other’s errors for what they are, and no more', async () => {
    const other = await copyOf<Errors>('src/errors.js');
    expect(other.PermanentError).not.toBe(PermanentError);
    const permanent = new other.PermanentError('bad data');
    expect(permanent instanceof PermanentError).toBe(true);
    expect(permanent instanceof GarrisonError).toBe(true);
    expect(isPermanentError(permanent)).toBe(true);
    const plain = new other.GarrisonError('some_code', 'transient', { retryable: true });
    expect(plain instanceof GarrisonError).toBe(true);
    expect(plain instanceof PermanentError).toBe(false);
    // A subclass without a mark of its own is matched by its own copy only.
    expect(new other.ValidationError('x') instanceof ValidationError).toBe(false);
    expect(new PermanentError('x') instanceof AgentError).toBe(false);
    expect(new Error('x') instanceof GarrisonError).toBe(false);
    expect({ code: 'x', retryable: false } instanceof GarrisonError).toBe(false);
    // The marks are not part of what an error shows: not enumerable, so not copied by a spread.
    expect(Object.getOwnPropertySymbols(permanent)).toHaveLength(2);
    expect(Object.getOwnPropertySymbols({ ...permanent })).toEqual([]);
  });

  it('take each other’s action results with directives', async () => {
    const other = await copyOf<Actions>('src/agents/action.js');
    const result = other.withDirectives('out', { kind: 'emit', type: 't', data: 1 });
    expect(result instanceof ActionResult).toBe(true);
    expect(withDirectives('out') instanceof other.ActionResult).toBe(true);
    expect({ output: 'out', directives: [] } instanceof ActionResult).toBe(false);
  });
});
