/** dfmanager: the control plane (clusters, scheduler discovery, dynamic config, users, tokens, jobs). */
export { StoreError, UnauthenticatedError, ForbiddenError, RecordNotFoundError, RecordExistsError, RateLimitedError } from './errors.ts';
export { openStore, redactUrl, type Store } from './store/database.ts';
export type { Database } from './store/schema.ts';
export * from './preheat/index.ts';
export { bestCluster, checkScopes, scoreCluster, parseIp, parsePrefix, SCOPE_WEIGHTS, MAX_LOCATION_LEVELS, type ClusterScopes, type ScopeHost, type ScopedCluster } from './scopes.ts';
export { MANAGER_CONFIG_SCHEMA, parseManagerConfig, resolveManagerConfig, type ManagerConfig } from './config.ts';
export type { ManagerContext } from './context.ts';
export { buildApp, type RoutePlugin } from './rest/app.ts';
export { startManager, ROUTES, type RunningManager } from './main.ts';
export { dfmanagerMain, USAGE as DFMANAGER_USAGE } from './cli.ts';
