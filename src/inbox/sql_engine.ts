/**
 * The connection under the inbox: runs SQL statements and write transactions, nothing more.
 *
 * {@linkcode openClientEngine} opens a database with `@libsql/client` (creating, tuning and
 * migrating it). It runs on the main thread for libSQL servers (already asynchronous); the store
 * worker serves `file:` databases on the `libsql` driver itself (`native_engine.ts`), or on this
 * client when asked (`native: false`). Results are plain arrays so they cross a worker boundary
 * cheaply.
 *
 * @example
 * ```ts
 * import { openClientEngine } from "./sql_engine.ts";
 * const engine = await openClientEngine({ url: "file::memory:" });
 * const [r] = await engine.batch([{ sql: "SELECT 1 AS one", args: [] }]);
 * engine.close();
 * ```
 * @module
 */
import { type Client, createClient, type InStatement } from "@libsql/client";
import { dirname } from "node:path";
import { errorMessage, UserError } from "../errors.ts";
import { redactUrl } from "../ops/scrub.ts";
import { INBOX_MIGRATIONS, migrate } from "./migrations.ts";

/** A value bound to a statement parameter. */
export type SqlValue = string | number | null;

/** One statement: positional (`?`) or named (`:name`, given without the colon) arguments. */
export interface SqlStatement {
  sql: string;
  args: SqlValue[] | Record<string, SqlValue>;
}

/** What a statement gave back: rows as arrays in `columns` order. */
export interface SqlResult {
  columns: string[];
  rows: unknown[][];
  rowsAffected: number;
}

/** Runs statements against one database connection. */
export interface SqlEngine {
  /** Runs one statement on its own (autocommit). */
  execute(stmt: SqlStatement): Promise<SqlResult>;
  /** Runs `stmts` in one write transaction; all commit or none does. */
  batch(stmts: SqlStatement[]): Promise<SqlResult[]>;
  /** Closes the connection after the statements already sent; resolves once it is closed. */
  close(): Promise<void>;
}

/** Options for {@linkcode openClientEngine}. */
export interface EngineOptions {
  /** `file:path/to.db`, `file::memory:`, `libsql://…`, `http(s)://…`. */
  url: string;
  /** Token for a libSQL server. */
  authToken?: string;
  /** How long a write waits for another process's lock on a `file:` database. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * In the store worker, run a `file:` database on the `libsql` driver with prepared statements
   * (default true) rather than through `@libsql/client`.
   */
  native?: boolean;
}

/** The path of a `file:` URL (undefined for remote URLs). */
export function filePathOf(url: string): string | undefined {
  if (!/^file:/i.test(url)) return undefined;
  let rest = url.slice("file:".length);
  const query = rest.indexOf("?");
  if (query >= 0 && !rest.startsWith(":memory:")) rest = rest.slice(0, query);
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    rest = slash < 0 ? "" : rest.slice(slash);
  }
  return decodeURIComponent(rest);
}

/** True for `file::memory:` URLs. */
export function isMemoryUrl(url: string): boolean {
  const path = filePathOf(url);
  return path !== undefined && /^:memory:($|\?)/.test(path);
}

/**
 * Opens (creating and migrating as needed) the database at `options.url`.
 *
 * For `file:` URLs the parent directory is created, the journal is WAL, writes wait up to
 * `busyTimeoutMs` for other processes, and `synchronous=FULL` makes every commit durable before
 * it is reported. Throws a {@linkcode UserError} when the database cannot be opened or was
 * written by a newer whd.
 */
export async function openClientEngine(options: EngineOptions): Promise<SqlEngine> {
  const filePath = filePathOf(options.url);
  const inMemory = isMemoryUrl(options.url);
  if (filePath !== undefined && !inMemory) await createDatabaseDir(filePath);
  let client: Client;
  try {
    client = createClient({
      url: options.url,
      authToken: options.authToken,
      // One connection: the sqlite3 driver runs statements synchronously, so more would not add
      // parallelism, and per-connection PRAGMAs (synchronous) then cover every statement.
      concurrency: filePath === undefined ? undefined : 1,
      timeout: filePath === undefined ? undefined : options.busyTimeoutMs ?? 5000,
    });
  } catch (error) {
    throw cannotOpen(options.url, error, "Check database.url.");
  }
  try {
    if (filePath !== undefined) {
      // WAL lets the CLI read while the daemon writes; it is persistent in the file.
      await client.execute("PRAGMA journal_mode = WAL");
      // FULL: the WAL is fsynced at every commit, so a resolved write survives power loss.
      await client.execute("PRAGMA synchronous = FULL");
    }
    await migrate(client, INBOX_MIGRATIONS);
  } catch (error) {
    client.close();
    if (error instanceof UserError) throw error;
    throw cannotOpen(options.url, error, NOT_A_WHD_DATABASE);
  }
  // Reconnecting would lose an in-memory database, so only real files recover that way.
  return new _ClientEngine(client, filePath !== undefined && !inMemory);
}

/** The fix named when a database opens but cannot be read or migrated as whd's. */
export const NOT_A_WHD_DATABASE = "Check database.url and that the file is a whd database.";

/** Creates the directory of a database file, or throws a {@linkcode UserError} saying why not. */
export async function createDatabaseDir(filePath: string): Promise<void> {
  await Deno.mkdir(dirname(filePath), { recursive: true }).catch((error) => {
    throw new UserError(
      `cannot create the directory for the inbox database ${filePath}: ${errorMessage(error)}. ` +
        `Fix the permissions or change database.url.`,
      { cause: error },
    );
  });
}

/** The {@linkcode UserError} for a database that could not be opened (URL credentials redacted). */
export function cannotOpen(url: string, error: unknown, fix: string): UserError {
  return new UserError(
    `cannot open the inbox database ${redactUrl(url)}: ${redactUrl(errorMessage(error))}. ${fix}`,
    { cause: error },
  );
}

class _ClientEngine implements SqlEngine {
  #client: Client;
  #recoverByReconnect: boolean;
  #closed = false;

  constructor(client: Client, recoverByReconnect: boolean) {
    this.#client = client;
    this.#recoverByReconnect = recoverByReconnect;
  }

  execute(stmt: SqlStatement): Promise<SqlResult> {
    return this.#recovering(async () => _plain(await this.#client.execute(stmt as InStatement)));
  }

  batch(stmts: SqlStatement[]): Promise<SqlResult[]> {
    return this.#recovering(async () =>
      (await this.#client.batch(stmts as InStatement[], "write")).map(_plain)
    );
  }

  /**
   * Runs `op`; when it fails on a local file, replaces the connection before rethrowing. The
   * sqlite3 driver (libsql 0.5) does not reset a statement that failed with SQLITE_BUSY, and that
   * statement keeps the connection's locks: without a fresh connection every later write fails
   * ("SQL statements in progress") and other processes stay locked out.
   */
  async #recovering<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (this.#recoverByReconnect && !this.#closed) {
        try {
          await this.#client.reconnect();
          await this.#client.execute("PRAGMA synchronous = FULL");
        } catch {
          // The next statement fails too and reports it.
        }
      }
      throw error;
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#client.close();
    return Promise.resolve();
  }
}

function _plain(
  rs: { columns: string[]; rows: ArrayLike<unknown>[]; rowsAffected: number },
): SqlResult {
  return {
    columns: rs.columns,
    rows: rs.rows.map((r) => Array.prototype.slice.call(r)),
    rowsAffected: rs.rowsAffected,
  };
}
