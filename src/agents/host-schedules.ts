/** An agent host's view of its agents' schedules: the store functions of `schedules.ts`, as methods. */
import type { Clock } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import type { QueueClient } from '../work/index.js';
import {
  changeSchedule,
  listSchedules,
  runScheduleNow,
  type AgentScheduleInfo,
  type ScheduleAnswer,
  type ScheduleTiming,
} from './schedules.js';

export interface AgentSchedules {
  /** The agent's schedules by name (removed ones are not listed). */
  list(agentId: string): Promise<AgentScheduleInfo[]>;
  /** Queues one run of the schedule's action now; its timer keeps its times. */
  run(agentId: string, name: string): Promise<ScheduleAnswer>;
  /** Stops it firing until resumed (kept across restarts). */
  pause(agentId: string, name: string): Promise<ScheduleAnswer>;
  /** Fires it again, its next time counted from now. */
  resume(agentId: string, name: string): Promise<ScheduleAnswer>;
  /** A new timing, `{ everyMs }` or `{ cron }`; a paused schedule stays paused. */
  update(agentId: string, name: string, timing: ScheduleTiming): Promise<ScheduleAnswer>;
  /** Removes it for good (a restart does not bring it back; a start after a stop does). */
  remove(agentId: string, name: string): Promise<ScheduleAnswer>;
}

export function hostSchedules(ctx: {
  readonly store: Store;
  readonly clock: Clock;
  readonly queues: QueueClient;
  readonly maxAttempts: number;
  /** The audit trail's actor of the changes made through this host. */
  readonly actor: string;
}): AgentSchedules {
  const change = (operation: 'pause' | 'resume' | 'remove', agentId: string, name: string) =>
    changeSchedule(ctx, { operation, agentId, name });
  return {
    list: (agentId) => listSchedules(ctx.store, ctx.clock, agentId),
    run: (agentId, name) => runScheduleNow(ctx, agentId, name),
    pause: (agentId, name) => change('pause', agentId, name),
    resume: (agentId, name) => change('resume', agentId, name),
    remove: (agentId, name) => change('remove', agentId, name),
    update: (agentId, name, timing) => changeSchedule(ctx, { operation: 'update', agentId, name, timing }),
  };
}
