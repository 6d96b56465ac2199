#!/usr/bin/env node
/** dfscheduler: the scheduler of the P2P network. See `dfscheduler --help`. */
import { dfschedulerMain } from '../index.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(signal)));
}
process.exitCode = await dfschedulerMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
