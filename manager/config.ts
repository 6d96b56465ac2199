/**
 * manager.yaml: Dragonfly's ports and defaults, resolved by api's schema-driven resolver (unknown
 * keys and bad values fail with their path). Every key has a default, so a file that sets only
 * `database.url` starts.
 */
import { parse as parseYaml } from 'yaml';
import { checkTlsPaths, ConfigError, field, resolveConfig, tlsFields, type Resolved } from '../api/index.ts';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export const MANAGER_CONFIG_SCHEMA = {
  server: field.object({
    rest: field.object({
      listenIP: field.string('0.0.0.0', { doc: 'address the REST API and console bind' }),
      port: field.int(8080, { min: 0, max: 65535, doc: '0 picks a free port' }),
    }),
    grpc: field.object({
      listenIP: field.string('0.0.0.0', { doc: 'address the manager.v2 gRPC server binds' }),
      port: field.int(65003, { min: 0, max: 65535, doc: '0 picks a free port' }),
    }),
    dataDir: field.string('/var/lib/dragonfly/manager', { doc: 'where the embedded database lives' }),
  }),
  database: field.object({
    url: field.string('', { doc: 'postgres://user:password@host:port/db, or sqlite:<path>; empty: sqlite in server.dataDir' }),
  }),
  auth: field.object({
    rootPassword: field.optionalString({ doc: 'the initial root password; else DRAGONFLY_INITIAL_ROOT_PASSWORD, else a random one printed once' }),
    tokenTTL: field.duration('24h', 'how long a sign-in token lives'),
    enableSignup: field.bool(false, 'let anyone create a guest account'),
  }),
  job: field.object({
    rateLimit: field.int(10, { min: 1, max: 10_000, doc: 'jobs a second one cluster accepts; more answer 429' }),
    preheat: field.object({
      stallTimeout: field.duration('2m', 'a layer whose hosts report no progress this long fails'),
    }),
  }),
  scheduler: field.object({
    tls: field.object(tlsFields('calls to the schedulers (preheat and task jobs), needed when their server.tls is on')),
  }),
  taskIndex: field.object({
    ttl: field.duration('7d', 'how long a task stays findable after a scheduler last reported it'),
  }),
  keepAlive: field.object({
    timeout: field.duration('15s', 'a scheduler silent this long is inactive'),
  }),
  log: field.object({
    level: field.string('info', { allowed: LOG_LEVELS }),
  }),
};

export type ManagerConfig = Resolved<typeof MANAGER_CONFIG_SCHEMA>;

export function resolveManagerConfig(raw: unknown): ManagerConfig {
  const config = resolveConfig(MANAGER_CONFIG_SCHEMA, raw);
  if (config.auth.tokenTTL <= 0) throw new ConfigError('auth.tokenTTL', 'must be longer than 0');
  if (config.taskIndex.ttl <= 0) throw new ConfigError('taskIndex.ttl', 'must be longer than 0');
  if (config.keepAlive.timeout <= 0) throw new ConfigError('keepAlive.timeout', 'must be longer than 0');
  checkTlsPaths('scheduler.tls', config.scheduler.tls);
  return config;
}

/** manager.yaml text to a resolved config; YAML syntax errors name the line. */
export function parseManagerConfig(text: string): ManagerConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError('', `not valid YAML: ${(error as Error).message}`);
  }
  return resolveManagerConfig(raw ?? {});
}
