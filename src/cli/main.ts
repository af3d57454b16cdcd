import { watchStopSignals } from './stop-signals.js';

/** The commands that run a node until stopped: they watch for SIGTERM before loading anything else. */
const LONG_RUNNING = new Set(['worker', 'serve', 'dev']);

const args = process.argv.slice(2);
if (args[0] !== undefined && LONG_RUNNING.has(args[0])) watchStopSignals();
const { runCli } = await import('./program.js');
process.exitCode = await runCli(args);
