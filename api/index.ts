/** Contracts shared by every component. Pure: no I/O. */
export * from './errors.ts';
export * from './pieces.ts';
export * from './rendezvous.ts';
export * from './digest.ts';
export * from './ids.ts';
export * from './units.ts';
export * from './proto.ts';
export * from './config.ts';
export * from './tls.ts';
export type * from './wire.ts';
export * from './grpc-status.ts';
export * from './grpc-undecodable.ts';
export * from './metrics.ts';
export { createLogger, LOG_LEVELS, NOOP_LOGGER, type LogFields, type Logger, type LogLevel } from './log.ts';
