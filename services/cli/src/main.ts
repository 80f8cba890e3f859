#!/usr/bin/env node
/*
 * The dirstream command line. This is the one place of the product that reads process.env and
 * process.argv; everything below receives them as arguments.
 */
import { createLogger } from '@dirstream/logging';
import { runCli } from './run.ts';

/** After the command finished, leaked handles (a client someone forgot to close) get this long. */
const EXIT_GRACE_MS = 5_000;

// kafkajs 2.2.4's RequestQueue schedules a negative timeout after every response; Node 24 warns
// about each one (harmless: Node clamps it to 1 ms). Every other warning is still printed.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const controller = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) {
    process.stderr.write(`dirstream: second ${signal}, exiting now\n`);
    process.exit(130);
  }
  process.stderr.write(`dirstream: ${signal} received, shutting down (send it again to force)\n`);
  controller.abort(new Error(`received ${signal}`));
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

const exitCode = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  createLogger: (level, output) =>
    createLogger({ name: 'dirstream', level, ...(output === 'stderr' ? { destination: process.stderr } : {}) }),
});
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), EXIT_GRACE_MS).unref();
