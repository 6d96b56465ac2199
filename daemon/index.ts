/** dfdaemon and dfget. */
export { dfgetMain, type DfgetIo } from './dfget/main.ts';
export { parseDfgetArgs, defaultStorageDir, DFGET_DEFAULTS, USAGE as DFGET_USAGE, type DfgetArgs } from './dfget/args.ts';
export { createLogger, type Logger, type LogLevel } from './log.ts';
export { UsageError } from './errors.ts';
