/**
 * JSON lines, filtered by level; children carry fields such as the peer id. The writer is given
 * (stderr by default), so this stays free of I/O of its own.
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** Whether debug lines are written: lets hot paths skip building their fields. */
  readonly debugEnabled: boolean;
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => void process.stderr.write(line),
  base: LogFields = {},
): Logger {
  const threshold = RANK[level];
  const at = (name: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[name] > threshold) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: name, msg: message, ...base, ...fields }, errorReplacer)}\n`);
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    debugEnabled: threshold >= RANK.debug,
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}

/** For tests and benchmarks that want silence. */
export const NOOP_LOGGER: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  debugEnabled: false,
  child: () => NOOP_LOGGER,
};
