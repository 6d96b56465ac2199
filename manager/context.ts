/** What every part of the manager is given: its config, database, log, metrics and clock. */
import type { Logger, MetricsRegistry } from '../api/index.ts';
import type { ManagerConfig } from './config.ts';
import type { Store } from './store/database.ts';

export interface ManagerContext {
  readonly config: ManagerConfig;
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly now: () => number;
}
