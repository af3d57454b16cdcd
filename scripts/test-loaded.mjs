#!/usr/bin/env node
// The whole test suite while every core is kept busy by another process: a test that depends on the
// machine being quiet fails here. Busy loops are started first and always killed, whatever the outcome;
// the exit code is the suite's.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const loops = Array.from({ length: availableParallelism() }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
const stopLoops = () => loops.forEach((loop) => loop.kill('SIGKILL'));
process.on('exit', stopLoops);

const suite = spawn('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => suite.kill(signal));
suite.on('close', (code, signal) => {
  stopLoops();
  process.exit(code ?? (signal === null ? 1 : 128));
});
