export { SystemClock, VirtualClock, systemClock, type Clock, type TimerHandle } from './clock.js';
