/** The workflows the command line can start by name: those the built-in agents of `garrison demo` serve. */
import type { WorkflowDefinition } from '../work/workflow/index.js';
import { orderWorkflow } from './demo/workflows.js';

export const catalogWorkflows: ReadonlyArray<WorkflowDefinition<unknown, unknown>> = [orderWorkflow];
