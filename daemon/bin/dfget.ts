#!/usr/bin/env node
/** dfget: download a URL in verified pieces. See `dfget --help`. */
import { dfgetMain } from '../dfget/main.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(signal)));
}
process.exitCode = await dfgetMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
