/**
 * The database part of `whd check`: is `database.url` reachable, and which schema version does
 * it hold against the one this whd knows. Reads only: a `file:` database that does not exist is
 * not created (serve creates it), and no migration runs.
 *
 * @example
 * ```ts ignore
 * const report = await probeDatabase({ url: "file:data/whd.db" });
 * report.problem ?? report.note; // "schema version 1 (current)"
 * ```
 * @module
 */
import { createClient } from "@libsql/client";
import { dirname } from "node:path";
import { errorMessage } from "../errors.ts";
import { INBOX_MIGRATIONS } from "../inbox/migrations.ts";

/** What {@linkcode probeDatabase} found. */
export interface DatabaseReport {
  /** `database.url` without credentials. */
  url: string;
  reachable: boolean;
  /** Highest applied migration; 0 for a database serve has not initialized; null unknown. */
  schema_version: number | null;
  /** The newest schema version this whd knows (serve migrates up to it). */
  latest_version: number;
  /** What serve would do with it, for people. */
  note: string;
  /** Set when serve could not use this database. */
  problem?: string;
}

/** Options of {@linkcode probeDatabase}. */
export interface ProbeOptions {
  url: string;
  authToken?: string;
}

/** Connects to the inbox database read-only and reports its schema version. */
export async function probeDatabase(options: ProbeOptions): Promise<DatabaseReport> {
  const latest = INBOX_MIGRATIONS.at(-1)?.version ?? 0;
  const base = { url: _redact(options.url), latest_version: latest };
  const file = _filePath(options.url);
  if (file !== undefined && !file.startsWith(":memory:")) {
    const missing = await _missing(file);
    if (missing) {
      const base2 = { ...base, reachable: false, schema_version: null };
      if (!(await _nearestIsDirectory(dirname(file)))) {
        return {
          ...base2,
          note: "cannot be created",
          problem: `${file} does not exist and its directory cannot be made (a parent is a ` +
            "file): change database.url",
        };
      }
      return { ...base2, note: `${file} does not exist yet: serve creates it` };
    }
  }
  let client;
  try {
    client = createClient({ url: options.url, authToken: options.authToken });
  } catch (error) {
    return _unreachable(base, error);
  }
  try {
    const tables = await client.execute(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    );
    let version = 0;
    if (tables.rows.length > 0) {
      const rs = await client.execute(
        "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
      );
      version = Number(rs.rows[0].v);
    }
    if (version > latest) {
      return {
        ...base,
        reachable: true,
        schema_version: version,
        note: `schema version ${version}, newer than this whd knows (${latest})`,
        problem: `the inbox database has schema version ${version}, but this whd only knows ` +
          `versions up to ${latest}: upgrade whd, or point database.url at another database`,
      };
    }
    return {
      ...base,
      reachable: true,
      schema_version: version,
      note: version === latest
        ? `schema version ${version} (current)`
        : `schema version ${version}: serve migrates it to ${latest}`,
    };
  } catch (error) {
    return _unreachable(base, error);
  } finally {
    client.close();
  }
}

function _unreachable(
  base: { url: string; latest_version: number },
  error: unknown,
): DatabaseReport {
  return {
    ...base,
    reachable: false,
    schema_version: null,
    note: "unreachable",
    problem: `cannot read the inbox database ${base.url}: ${_redact(errorMessage(error))}: ` +
      "check database.url (and database.auth_token_env for a libSQL server)",
  };
}

async function _missing(file: string): Promise<boolean> {
  try {
    await Deno.stat(file);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound; // else opening it reports the problem
  }
}

/** Whether the nearest existing of `dir` and its ancestors is a directory (serve makes the rest). */
async function _nearestIsDirectory(dir: string): Promise<boolean> {
  for (let current = dir;; current = dirname(current)) {
    try {
      return (await Deno.stat(current)).isDirectory;
    } catch {
      if (dirname(current) === current) return false;
    }
  }
}

/** The path of a `file:` URL (undefined for other schemes). */
function _filePath(url: string): string | undefined {
  if (!/^file:/i.test(url)) return undefined;
  let rest = url.slice("file:".length);
  const query = rest.indexOf("?");
  if (query >= 0) rest = rest.slice(0, query);
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    rest = slash < 0 ? "" : rest.slice(slash);
  }
  return decodeURIComponent(rest);
}

/** `text` without URL credentials (user info, `authToken=` values). */
function _redact(text: string): string {
  return text.replace(/\/\/[^/@]*@/g, "//").replace(/([?&]authToken=)[^&'"]*/gi, "$1…");
}
