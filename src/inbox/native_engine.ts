/**
 * A {@linkcode SqlEngine} on the `libsql` driver itself (the better-sqlite3-like package under
 * `@libsql/client`), for a local file inside the store worker: each distinct SQL text is
 * prepared once and reused, and rows come back as plain arrays without the client's per-value
 * conversions. {@linkcode openMigratedNativeEngine} opens it (WAL, synchronous FULL), creating and
 * migrating the file on that same connection.
 *
 * @example
 * ```ts
 * import { openMigratedNativeEngine } from "./native_engine.ts";
 * const engine = await openMigratedNativeEngine("file:data/whd.db", 5000);
 * await engine.execute({ sql: "SELECT COUNT(*) FROM events", args: [] });
 * engine.close();
 * ```
 * @module
 */
import Database from "libsql";
import { UserError } from "../errors.ts";
import { INBOX_MIGRATIONS, migrate, type MigrationTarget } from "./migrations.ts";
import {
  cannotOpen,
  createDatabaseDir,
  filePathOf,
  NOT_A_WHD_DATABASE,
  type SqlEngine,
  type SqlResult,
  type SqlStatement,
} from "./sql_engine.ts";

/** Most prepared statements kept (accept groups have one SQL text per group size). */
const _CACHE_SIZE = 600;

/**
 * Opens the `file:` database at `url` (WAL, synchronous FULL, `busyTimeoutMs` wait for other
 * processes' locks), creating it (and its directory) and bringing its schema up to date on that
 * same connection. (Migrating through `@libsql/client` first left that client's connection open
 * until its statements were garbage-collected, and SQLite then kept its descriptor of the file
 * for as long as this connection held a lock: a second descriptor for the life of the process;
 * README "Performance".) Throws a {@linkcode UserError} when the file cannot be opened as a whd
 * database.
 */
export async function openMigratedNativeEngine(
  url: string,
  busyTimeoutMs: number,
): Promise<SqlEngine> {
  const path = filePathOf(url)!;
  await createDatabaseDir(path);
  let engine: _NativeEngine | undefined;
  try {
    engine = new _NativeEngine(path, busyTimeoutMs);
    await migrate(engine.migrationTarget(), INBOX_MIGRATIONS);
    return engine;
  } catch (error) {
    await engine?.close();
    if (error instanceof UserError) throw error;
    throw cannotOpen(url, error, NOT_A_WHD_DATABASE);
  }
}

interface _Prepared {
  stmt: Database.Statement;
  /** Column names when the statement returns rows (SELECT, RETURNING); undefined otherwise. */
  columns?: string[];
}

class _NativeEngine implements SqlEngine {
  #db: Database.Database;
  #cache = new Map<string, _Prepared>();
  /** The SQL of the statement last run, to forget it when it fails. */
  #current: string | undefined;

  constructor(path: string, busyTimeoutMs: number) {
    this.#db = new Database(path, { timeout: busyTimeoutMs });
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
  }

  /**
   * After an error: rolls back an open transaction and forgets the statement that failed (the
   * driver may not have reset it, and an unreset statement would keep its locks), so the
   * connection is usable and other processes are not locked out.
   */
  #recover(failedSql: string | undefined): void {
    if (failedSql !== undefined) this.#cache.delete(failedSql);
    try {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
    } catch {
      // Nothing was open, or the next statement reports what is wrong.
    }
  }

  #prepare(sql: string): _Prepared {
    let prepared = this.#cache.get(sql);
    if (prepared === undefined) {
      const stmt = this.#db.prepare(sql);
      let columns: string[] | undefined;
      try {
        stmt.raw(true); // throws when the statement returns no data
        columns = stmt.columns().map((c) => c.name);
      } catch {
        columns = undefined;
      }
      prepared = { stmt, columns };
      if (this.#cache.size >= _CACHE_SIZE) {
        this.#cache.delete(this.#cache.keys().next().value!);
      }
      this.#cache.set(sql, prepared);
    }
    return prepared;
  }

  #run(statement: SqlStatement): SqlResult {
    this.#current = statement.sql;
    const { stmt, columns } = this.#prepare(statement.sql);
    if (columns !== undefined) {
      const rows = stmt.all(statement.args) as unknown[][];
      return { columns, rows, rowsAffected: rows.length };
    }
    return { columns: [], rows: [], rowsAffected: stmt.run(statement.args).changes };
  }

  execute(stmt: SqlStatement): Promise<SqlResult> {
    try {
      return Promise.resolve(this.#run(stmt));
    } catch (error) {
      this.#recover(this.#current);
      return Promise.reject(_withCode(error));
    }
  }

  batch(stmts: SqlStatement[]): Promise<SqlResult[]> {
    this.#current = undefined;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      const results = stmts.map((s) => this.#run(s));
      this.#db.exec("COMMIT");
      return Promise.resolve(results);
    } catch (error) {
      this.#recover(this.#current);
      return Promise.reject(_withCode(error));
    }
  }

  /** This connection as {@linkcode migrate} uses it: rows by column name, one transaction. */
  migrationTarget(): MigrationTarget {
    const db = this.#db;
    const run = (stmt: string | { sql: string; args: (string | number)[] }) => {
      const { sql, args } = typeof stmt === "string" ? { sql: stmt, args: [] } : stmt;
      const prepared = db.prepare(sql);
      if (prepared.reader) return Promise.resolve({ rows: prepared.all(args) as _Row[] });
      prepared.run(args);
      return Promise.resolve({ rows: [] });
    };
    return {
      execute: run,
      transaction: () => {
        db.exec("BEGIN IMMEDIATE");
        let closed = false;
        // Closed once COMMIT or ROLLBACK succeeded: after a failed COMMIT the caller rolls back.
        const end = (sql: string) => {
          db.exec(sql);
          closed = true;
          return Promise.resolve();
        };
        return Promise.resolve({
          execute: run,
          commit: () => end("COMMIT"),
          rollback: () => end("ROLLBACK"),
          close: () => {
            if (!closed && db.inTransaction) db.exec("ROLLBACK");
            closed = true;
          },
          get closed() {
            return closed;
          },
        });
      },
    };
  }

  close(): Promise<void> {
    this.#cache.clear();
    this.#db.close();
    return Promise.resolve();
  }
}

/** A row by column name, as the driver returns it outside raw mode. */
type _Row = Record<string, unknown>;

/** The driver's error with its SQLite code in the message (`SQLITE_BUSY: database is locked`). */
function _withCode(error: unknown): unknown {
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    return new Error(`${error.code}: ${error.message}`, { cause: error });
  }
  return error;
}
