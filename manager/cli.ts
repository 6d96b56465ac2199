/** `dfmanager --config manager.yaml`: load the config, start, run until the signal aborts. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, type LogLevel } from '../api/index.ts';
import { parseManagerConfig } from './config.ts';
import { startManager } from './main.ts';

export const USAGE = `Usage: dfmanager [--config manager.yaml]

  -c, --config PATH   manager config (YAML, Dragonfly's keys); defaults apply without one
  -h, --help          this text
`;

export interface DfmanagerIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly signal: AbortSignal;
}

/** Runs the manager until `signal` aborts; the exit code: 0 after a clean stop, 1 on a bad config or start failure. */
export async function dfmanagerMain(argv: readonly string[], io: DfmanagerIo): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`dfmanager: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let config;
  try {
    const text = values.config === undefined ? '' : await readFile(values.config, 'utf8');
    config = parseManagerConfig(text);
  } catch (error) {
    const where = values.config ?? '(defaults)';
    const message = error instanceof ConfigError ? error.message : `cannot read ${where}: ${(error as Error).message}`;
    io.stderr.write(`dfmanager: ${where}: ${message}\n`);
    return 1;
  }
  const log = createLogger(config.log.level as LogLevel, (line) => void io.stderr.write(line));
  try {
    const manager = await startManager(config, { log, signal: io.signal });
    await manager.closed;
    return 0;
  } catch (error) {
    log.error('manager failed to start', { error });
    return 1;
  }
}
