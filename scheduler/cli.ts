/** `dfscheduler --config scheduler.yaml`: load the config, start, run until the signal aborts. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../api/index.ts';
import { parseSchedulerConfig } from './config.ts';
import { createLogger, type LogLevel } from './log.ts';
import { startScheduler } from './main.ts';

export const USAGE = `Usage: dfscheduler [--config scheduler.yaml]

  -c, --config PATH   scheduler config (YAML, Dragonfly's keys); defaults apply without one
  -h, --help          this text
`;

export interface DfschedulerIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly signal: AbortSignal;
}

/** Runs the scheduler until `signal` aborts; the exit code: 0 after a clean stop, 1 on a bad config or start failure. */
export async function dfschedulerMain(argv: readonly string[], io: DfschedulerIo): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`dfscheduler: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let config;
  try {
    const text = values.config === undefined ? '' : await readFile(values.config, 'utf8');
    config = parseSchedulerConfig(text);
  } catch (error) {
    const where = values.config ?? '(defaults)';
    const message = error instanceof ConfigError ? error.message : `cannot read ${where}: ${(error as Error).message}`;
    io.stderr.write(`dfscheduler: ${where}: ${message}\n`);
    return 1;
  }
  const log = createLogger(config.log.level as LogLevel, (line) => void io.stderr.write(line));
  try {
    const scheduler = await startScheduler(config, { log, signal: io.signal });
    await scheduler.closed;
    return 0;
  } catch (error) {
    log.error('scheduler failed to start', { error });
    return 1;
  }
}
