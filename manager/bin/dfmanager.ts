#!/usr/bin/env node
/** dfmanager: the control plane of the P2P network. See `dfmanager --help`. */
import { dfmanagerMain } from '../index.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(signal)));
}
process.exitCode = await dfmanagerMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
