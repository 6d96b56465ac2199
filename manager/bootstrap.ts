/**
 * What a manager makes on its first start against an empty database: the root user and the
 * `default` cluster. Later starts (and other replicas starting at the same time) change nothing:
 * the root password is never reset here, it is changed through the API.
 */
import type { ManagerContext } from './context.ts';
import { hashPassword, randomPassword } from './credentials.ts';
import { RecordExistsError } from './errors.ts';
import { ensureDefaultCluster } from './store/clusters.ts';
import { createUser, findUserByName } from './store/users.ts';

export const ROOT_USER = 'root';
export const ROOT_PASSWORD_ENV = 'DRAGONFLY_INITIAL_ROOT_PASSWORD';

export interface BootstrapOptions {
  /** The environment to read the initial root password from; `process.env` unless given. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Creates the root user and the default cluster when absent. Returns whether root was created now. */
export async function bootstrap(context: ManagerContext, options: BootstrapOptions = {}): Promise<{ rootCreated: boolean }> {
  const { db, kind } = context.store;
  await ensureDefaultCluster(db, kind, context.now());
  if (await findUserByName(db, ROOT_USER)) return { rootCreated: false };

  const env = options.env ?? process.env;
  const configured = context.config.auth.rootPassword ?? (env[ROOT_PASSWORD_ENV] || undefined);
  const password = configured ?? randomPassword();
  try {
    await createUser(db, { name: ROOT_USER, passwordHash: await hashPassword(password), role: 'root' }, context.now());
  } catch (error) {
    // Another replica created root first; its password is the one that counts, ours is dropped.
    if (error instanceof RecordExistsError) return { rootCreated: false };
    throw error;
  }
  if (configured === undefined) {
    // The one place a secret is logged, on purpose and once: with neither auth.rootPassword nor
    // DRAGONFLY_INITIAL_ROOT_PASSWORD set, this line is the only way the operator learns it (as
    // Dragonfly's users expect). It is never logged again; change it after the first sign-in.
    context.log.warn(`initial root password (shown once, change it after signing in): ${password}`, { user: ROOT_USER });
  } else {
    context.log.info('root user created with the configured initial password', { user: ROOT_USER, from: context.config.auth.rootPassword !== undefined ? 'auth.rootPassword' : ROOT_PASSWORD_ENV });
  }
  return { rootCreated: true };
}
