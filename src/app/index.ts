/** Applications: `defineApp` declares what a node runs; `loadApp` and `startApp` run it. */
export {
  appSpecSchema,
  defineApp,
  isApp,
  parseAppSpec,
  type AppAgent,
  type AppContext,
  type AppFactory,
  type AppQueue,
  type AppSchedule,
  type AppSpec,
  type GarrisonApp,
  type ResolvedApp,
  type ScheduleContext,
} from './define.js';
export { loadApp, resolveAppPath } from './load.js';
export { scheduleTimerId, startApp, type RunningApp, type StartAppOptions } from './start.js';
