import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';
import type { WorkflowDefinition, WorkflowDefinitionOptions, WorkflowFunction } from './types.js';

const nameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s]+$/, 'must not contain whitespace');

const retrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(10_000).optional(),
    initialDelayMs: z.number().int().min(0).optional(),
    backoffFactor: z.number().min(1).max(100).optional(),
    maxDelayMs: z.number().int().min(0).optional(),
    retryIf: z.function().optional(),
  })
  .strict();

/** Checks a retry policy at a boundary; throws `invalid_input` naming the bad field. */
export function checkRetryPolicy(policy: unknown, where: string): void {
  if (policy === undefined) return;
  const parsed = retrySchema.safeParse(policy);
  if (!parsed.success) {
    throw new ValidationError(`invalid retry policy for ${where}: ${describeIssues(parsed.error.issues)}`);
  }
}

/**
 * Defines a durable workflow. `run` receives a `WorkflowContext` and the (validated) input; everything it
 * does with an effect goes through the context, so that a replay after a restart takes the same path.
 *
 *   const order = defineWorkflow('order', async (ctx, input: { id: string }) => {
 *     const charge = await ctx.step('charge', () => payments.charge(input.id), { compensate: refund });
 *     await ctx.sleep(60_000);
 *     return ctx.step('ship', () => shipping.ship(input.id, charge));
 *   });
 */
export function defineWorkflow<I, O>(
  name: string,
  run: WorkflowFunction<I, O>,
  options: WorkflowDefinitionOptions<I> = {},
): WorkflowDefinition<I, O> {
  const parsed = nameSchema.safeParse(name);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid workflow name ${JSON.stringify(name)}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  if (typeof run !== 'function') {
    throw new ValidationError(`workflow '${name}' needs a function as its second argument`);
  }
  checkRetryPolicy(options.defaultStepRetry, `workflow '${name}'`);
  return Object.freeze({
    name,
    run,
    inputSchema: options.inputSchema,
    defaultStepRetry: options.defaultStepRetry,
  });
}

/**
 * Validates `input` against the definition's schema and returns the value to store, as JSON text.
 * Throws `invalid_input` (nothing is written) when it does not fit or is not JSON.
 */
export function inputText(def: WorkflowDefinition<unknown, unknown>, input: unknown): string {
  let value = input;
  if (def.inputSchema !== undefined) {
    const parsed = def.inputSchema.safeParse(input);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid input for workflow '${def.name}': ${describeIssues(parsed.error.issues)}`,
        {
          workflow: def.name,
          issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
        },
      );
    }
    value = parsed.data;
  }
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw new ValidationError(
      `input for workflow '${def.name}' cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`,
      { workflow: def.name },
      error,
    );
  }
}
