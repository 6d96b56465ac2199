/**
 * Kysely's SQLite dialect over Node's own `node:sqlite`, so the embedded manager needs nothing
 * installed. Kysely expects better-sqlite3's statement shape (a `reader` flag, parameters as one
 * array); node:sqlite takes spread parameters and says whether a statement returns rows through
 * `columns()`. Booleans become 0/1, as SQLite stores them.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

type Value = null | number | bigint | string | NodeJS.ArrayBufferView;

function bind(parameters: ReadonlyArray<unknown>): Value[] {
  return parameters.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value === undefined ? null : (value as Value)));
}

class Statement implements SqliteStatement {
  readonly #statement: StatementSync;
  readonly reader: boolean;

  constructor(statement: StatementSync) {
    this.#statement = statement;
    this.reader = statement.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(...bind(parameters));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(...bind(parameters));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.#statement.iterate(...bind(parameters));
  }
}

/** The database file (or `:memory:`) in WAL mode, with foreign keys on and a busy wait for other writers. */
export function nodeSqliteDialect(path: string): SqliteDialect {
  return new SqliteDialect({
    database: () => {
      const database = new DatabaseSync(path);
      database.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
      const adapter: SqliteDatabase = {
        close: () => database.close(),
        prepare: (sql) => new Statement(database.prepare(sql)),
      };
      return Promise.resolve(adapter);
    },
  });
}
