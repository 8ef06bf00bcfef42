/**
 * Versioned schema migrations for the inbox database.
 *
 * Each {@linkcode Migration} is applied in its own write transaction together with the row that
 * records its version in `schema_migrations`, so a crash leaves the database at a whole version.
 * Re-running is a no-op; a database written by a newer whd (a version this build does not know)
 * is refused with a {@linkcode UserError}. The version table is a plain table rather than
 * `PRAGMA user_version` so that the same code works against libSQL servers (`libsql://`, `http:`).
 *
 * @example
 * ```ts
 * import { createClient } from "@libsql/client";
 * import { INBOX_MIGRATIONS, migrate } from "./migrations.ts";
 * const client = createClient({ url: "file::memory:" });
 * await migrate(client, INBOX_MIGRATIONS); // → 2
 * ```
 * @module
 */
import { UserError } from "../errors.ts";
import { ATTEMPTS_MIGRATION_SQL } from "./attempts.ts";
import { CONSOLE_MIGRATION_SQL } from "./console_schema.ts";
import { ORDERING_MIGRATION_SQL } from "./ordering.ts";

/** A result's rows as {@linkcode migrate} reads them: by column name. */
interface _Rows {
  rows: ArrayLike<Record<string, unknown>>;
}

/** A write transaction as {@linkcode migrate} uses it (`@libsql/client`'s `Transaction`). */
export interface MigrationTransaction {
  execute(stmt: string | { sql: string; args: (string | number)[] }): Promise<_Rows>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): void;
  readonly closed: boolean;
}

/**
 * A connection as {@linkcode migrate} uses it: `@libsql/client`'s `Client`, or the store worker's
 * `libsql` connection (`native_engine.ts`).
 */
export interface MigrationTarget {
  execute(sql: string): Promise<_Rows>;
  transaction(mode: "write"): Promise<MigrationTransaction>;
}

/** One schema step: `version` counts up from 1 without gaps; `sql` runs in one transaction. */
export interface Migration {
  version: number;
  description: string;
  sql: readonly string[];
}

/** The inbox schema, oldest step first. Append new steps; never edit a released one. */
export const INBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "events table with claim and list indexes",
    sql: [
      `CREATE TABLE events (
        provider TEXT NOT NULL,
        id TEXT NOT NULL,
        webhook TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        last_error TEXT,
        updated_at INTEGER NOT NULL,
        completed_at INTEGER,
        PRIMARY KEY (provider, id)
      )`,
      "CREATE INDEX events_claim ON events (status, next_attempt_at)",
      "CREATE INDEX events_received ON events (received_at)",
    ],
  },
  {
    version: 2,
    description: "claim indexes (events_ready, events_due on run_at); purged-event tombstones",
    sql: [
      // Two partial indexes hold only the runnable rows, so a claim is two index range scans
      // in claim order (cost independent of the backlog; done rows are not in them):
      // events_ready: fresh pending rows (no next_attempt_at), runnable at once, oldest first;
      // events_due: rows runnable from a time, `run_at` (NULL: not waiting for a time). It is a
      // generated column, so every write keeps it right and existing rows get it without a
      // backfill pass. `lease_until + 1`: an expired lease is one with lease_until < now.
      `ALTER TABLE events ADD COLUMN run_at INTEGER GENERATED ALWAYS AS (
        CASE status
          WHEN 'pending' THEN next_attempt_at
          WHEN 'failed' THEN next_attempt_at
          WHEN 'running' THEN lease_until + 1
        END) VIRTUAL`,
      "CREATE INDEX events_due ON events (run_at) WHERE run_at IS NOT NULL",
      `CREATE INDEX events_ready ON events (received_at)
        WHERE status = 'pending' AND next_attempt_at IS NULL`,
      // A purged event's dedupe key, kept for inbox.dedupe_retention after it was received.
      `CREATE TABLE purged (
        provider TEXT NOT NULL,
        id TEXT NOT NULL,
        status TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        purged_at INTEGER NOT NULL,
        PRIMARY KEY (provider, id)
      ) WITHOUT ROWID`,
    ],
  },
  {
    version: 3,
    description: "named leases (locks) for jobs that one process at a time runs",
    sql: [
      // One row per held lock: `until` is when it expires (ms since the epoch) unless renewed.
      `CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until INTEGER NOT NULL
      ) WITHOUT ROWID`,
    ],
  },
  {
    version: 4,
    description: "attempt history: one row per handler run (attempts.ts)",
    sql: ATTEMPTS_MIGRATION_SQL,
  },
  {
    version: 5,
    description: "ordering by object: order_key, order_at and the events_order index (ordering.ts)",
    sql: ORDERING_MIGRATION_SQL,
  },
  {
    version: 6,
    description: "console: kept request headers; events_trouble, events_dead, attempts_started",
    sql: CONSOLE_MIGRATION_SQL,
  },
];

const _CREATE_VERSIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

/**
 * Brings the database up to the newest migration in `migrations`; returns the resulting version.
 * Safe to call from several processes at once: each step re-checks the version inside its write
 * transaction. Throws a {@linkcode UserError} when the database is newer than `migrations`.
 */
export async function migrate(
  client: MigrationTarget,
  migrations: readonly Migration[],
  now: () => number = Date.now,
): Promise<number> {
  _checkOrder(migrations);
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  await client.execute(_CREATE_VERSIONS);
  let current = await _currentVersion(client);
  _refuseNewer(current, latest);
  for (const step of migrations) {
    if (step.version <= current) continue;
    const tx = await client.transaction("write");
    try {
      const inside = await _currentVersion(tx);
      _refuseNewer(inside, latest);
      if (inside < step.version) {
        for (const sql of step.sql) await tx.execute(sql);
        await tx.execute({
          sql: "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
          args: [step.version, step.description, now()],
        });
      }
      await tx.commit();
    } catch (error) {
      if (!tx.closed) await tx.rollback().catch(() => {});
      if (error instanceof UserError) throw error;
      throw new Error(`inbox migration ${step.version} (${step.description}) failed`, {
        cause: error,
      });
    } finally {
      tx.close();
    }
    current = step.version;
  }
  return current;
}

/** The highest applied migration version (0 for an empty database). */
async function _currentVersion(
  db: Pick<MigrationTarget, "execute"> | MigrationTransaction,
): Promise<number> {
  const rs = await db.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
  return Number(rs.rows[0].v);
}

function _refuseNewer(current: number, latest: number): void {
  if (current > latest) {
    throw new UserError(
      `the inbox database has schema version ${current}, but this whd only knows versions up ` +
        `to ${latest}: it was written by a newer whd. Upgrade whd, or point database.url at ` +
        `another database.`,
    );
  }
}

function _checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration #${i} has version ${m.version}; versions must be 1, 2, 3, …`);
    }
  });
}
