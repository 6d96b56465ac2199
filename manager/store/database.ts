/**
 * Opening the manager's database: `database.url` picks the store. Empty or `sqlite:<path>` is the
 * embedded node:sqlite file (nothing to install); `postgres://...` is PostgreSQL, which several
 * managers can share. Either way the schema is migrated to the latest version before use.
 */
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { InvalidArgumentError } from '../../api/index.ts';
import { StoreError } from '../errors.ts';
import { migrations, type DatabaseKind } from './migrations.ts';
import type { Database } from './schema.ts';
import { nodeSqliteDialect } from './sqlite-dialect.ts';

export interface Store {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** Where it is, without credentials: for logs and errors. */
  readonly description: string;
  close(): Promise<void>;
}

/** PostgreSQL's int8 (bigint) as a JS number: every bigint here is a time in ms or a byte count. */
const INT8_OID = 20;

/** A URL with its password replaced, fit for a log line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable database.url>';
  }
}

/** How long a closing store waits for its PostgreSQL connections to be gone. */
const SOCKETS_CLOSE_WAIT_MS = 2_000;

async function postgresDialect(url: string): Promise<{ dialect: PostgresDialect; socketsClosed: () => Promise<void> }> {
  // Loaded only for PostgreSQL: the embedded manager never pays for pg.
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: { getTypeParser: (oid: number, format?: string) => (oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) },
  });
  // pool.end() resolves before the sockets are closed: a server stopped right after a close would
  // otherwise end live sessions (57P01) that surface as an error nobody can catch.
  const open = new Set<Promise<void>>();
  pool.on('connect', (client) => {
    const stream = (client as unknown as { connection: { stream: NodeJS.EventEmitter & { destroyed?: boolean } } }).connection.stream;
    const closed = new Promise<void>((resolve) => (stream.destroyed ? resolve() : stream.once('close', () => resolve())));
    open.add(closed);
    void closed.then(() => open.delete(closed));
  });
  // A session the server ends (a restart) fails the client that holds it, not the process.
  pool.on('error', () => {});
  const socketsClosed = async () => {
    await Promise.race([Promise.all([...open]), new Promise((resolve) => setTimeout(resolve, SOCKETS_CLOSE_WAIT_MS).unref())]);
  };
  return { dialect: new PostgresDialect({ pool }), socketsClosed };
}

/**
 * Opens (creating when needed) and migrates the database named by `url`; a relative SQLite path is
 * taken from `baseDir`.
 */
export async function openStore(url: string, baseDir: string): Promise<Store> {
  let kind: DatabaseKind;
  let dialect;
  let description: string;
  let afterDestroy = async (): Promise<void> => {};
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    kind = 'postgres';
    description = redactUrl(url);
    const postgres = await postgresDialect(url);
    dialect = postgres.dialect;
    afterDestroy = postgres.socketsClosed;
  } else if (url === '' || url.startsWith('sqlite:')) {
    kind = 'sqlite';
    const given = url.slice('sqlite:'.length);
    const path = given === '' ? join(baseDir, 'manager.db') : given === ':memory:' || isAbsolute(given) ? given : join(baseDir, given);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    description = `sqlite:${path}`;
    dialect = nodeSqliteDialect(path);
  } else {
    throw new InvalidArgumentError(`database.url ${JSON.stringify(redactUrl(url))} is neither postgres://... nor sqlite:<path>`);
  }
  const db = new Kysely<Database>({ dialect });
  try {
    const { error, results } = await new Migrator({ db, provider: migrations(kind) }).migrateToLatest();
    if (error) {
      const failed = results?.find((result) => result.status === 'Error')?.migrationName;
      throw new StoreError(`cannot migrate ${description}${failed ? ` (migration ${failed})` : ''}: ${(error as Error).message}`, { cause: error });
    }
  } catch (error) {
    await db.destroy();
    await afterDestroy();
    if (error instanceof StoreError) throw error;
    throw new StoreError(`cannot open ${description}: ${(error as Error).message}`, { cause: error });
  }
  return {
    db,
    kind,
    description,
    close: async () => {
      await db.destroy();
      await afterDestroy();
    },
  };
}
