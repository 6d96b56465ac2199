/** dfscheduler: hosts, tasks and peers in memory, parent selection, seed-peer trigger, GC. */
export { startScheduler, SHUTDOWN_GRACE_MS, type RunningScheduler, type StartOptions } from './main.ts';
export { SCHEDULER_CONFIG_SCHEMA, parseSchedulerConfig, resolveSchedulerConfig, splitHostPort, type SchedulerConfig } from './config.ts';
export { createLogger, NOOP_LOGGER, type Logger, type LogLevel } from './log.ts';
export { dfschedulerMain } from './cli.ts';
export * from './errors.ts';
export { StripeForest, MAX_BACKUPS, type MemberPlan, type ForestMember } from './scheduling/forest.ts';
