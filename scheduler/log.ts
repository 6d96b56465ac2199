/** The scheduler logs as every component does (api/log.ts). */
export { createLogger, NOOP_LOGGER, type LogFields, type Logger, type LogLevel } from '../api/index.ts';
