/**
 * The seed's task agent, on the agent host: tasks of known types (data processing, validation,
 * transformation, analysis, notification) wait in the agent's durable priority queue (high first, a
 * queue limit, `queue_full`), run one at a time through the handler of their type, and are counted;
 * status, pause and resume, and the automatic pause after consecutive errors are the host's. What the
 * original kept in memory — the queue and the current task — is in the store.
 *
 *   const agent = defineTaskAgent({ handlers: { validation: async (data) => check(data) } });
 *   await host.start(agent, { id: 'tasks-1', queueLimit: 500, maxConsecutiveErrors: 5 });
 *   await host.enqueue('tasks-1', 'process_task', { taskType: 'validation', data }, { priority: 10 });
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { defineAction, withDirectives, type ActionContext } from './action.js';
import { defineAgent, type AgentDefinition } from './agent.js';
import { directive } from './directives.js';

/** The task types of the seed's task agent. */
export const TaskType = {
  dataProcessing: 'data_processing',
  validation: 'validation',
  transformation: 'transformation',
  analysis: 'analysis',
  notification: 'notification',
} as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

const TASK_TYPES = Object.values(TaskType);

/** The task agent's state: what it did, per task type, and its last task. */
export interface TaskAgentState {
  readonly byType: Readonly<Record<string, { readonly processed: number }>>;
  readonly lastTask: {
    readonly taskType: string;
    readonly taskId: string | null;
    readonly at: number;
  } | null;
}

/** Does one task: answers its result or throws (the task fails and counts toward the error streak). */
export type TaskTypeHandler = (data: unknown, ctx: ActionContext<TaskAgentState>) => unknown;

export interface TaskAgentOptions {
  /** The agent type. Default `task_agent`. */
  readonly type?: string;
  /** Default `['task_processing', …the task types it handles]`. */
  readonly capabilities?: readonly string[];
  /** A handler per task type the agent does; tasks of other types are refused (`invalid_input`). */
  readonly handlers: Partial<Record<TaskType, TaskTypeHandler>>;
}

const stateSchema = z.object({
  byType: z.record(z.string(), z.object({ processed: z.number().int().nonnegative() })),
  lastTask: z
    .object({ taskType: z.string(), taskId: z.string().nullable(), at: z.number().int() })
    .nullable(),
});

/** Defines a task agent whose `process_task` action runs tasks of the handled types. */
export function defineTaskAgent(options: TaskAgentOptions): AgentDefinition<TaskAgentState> {
  const handled = TASK_TYPES.filter((t) => typeof options.handlers[t] === 'function');
  const [first, ...rest] = handled;
  if (first === undefined)
    throw new ValidationError(`a task agent needs a handler for at least one of: ${TASK_TYPES.join(', ')}`);
  const processTask = defineAction({
    name: 'process_task',
    description: 'Runs one task through the handler of its type.',
    input: z.object({
      taskType: z.enum([first, ...rest]),
      data: z.unknown(),
      /** The caller's id for the task, kept as the last task's. */
      taskId: z.string().min(1).max(200).optional(),
    }),
    output: z.object({ taskType: z.string(), result: z.unknown() }),
    run: async (ctx: ActionContext<TaskAgentState>, { taskType, data, taskId }) => {
      const handler = options.handlers[taskType] as TaskTypeHandler;
      const result: unknown = await handler(data, ctx);
      const seen = ctx.state.byType[taskType]?.processed ?? 0;
      const next: TaskAgentState = {
        byType: { ...ctx.state.byType, [taskType]: { processed: seen + 1 } },
        lastTask: { taskType, taskId: taskId ?? null, at: ctx.now },
      };
      return withDirectives({ taskType, result: result ?? null }, directive.setState(next));
    },
  });
  return defineAgent({
    type: options.type ?? 'task_agent',
    capabilities: options.capabilities ?? ['task_processing', ...handled],
    state: stateSchema,
    initialState: { byType: {}, lastTask: null },
    actions: [processTask],
  });
}
