/**
 * The SQL of the libSQL inbox and the mapping of its rows: the claim statements, the lease
 * condition, the grouped INSERT of accepts, the probe write. Text only; `libsql_inbox.ts` and
 * `group_writer.ts` run it.
 *
 * @module
 */
import type { SqlResult, SqlStatement } from "./sql_engine.ts";
import { ORDER_HEAD_SQL } from "./ordering.ts";
import type { EventStatus, StoredEvent } from "./types.ts";

/** Columns of a {@linkcode StoredEvent}, in its order. */
export const COLUMNS =
  "provider, id, webhook, type, payload, received_at, source, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at, completed_at";

/**
 * The claim statement (`:owner`, `:until`, `:now`, `:limit`): two index range scans, fresh
 * pending rows by arrival and rows due by `run_at`, merged and cut at `:limit`; an event with an
 * order key is skipped while it is not its key's turn (`ordering.ts`). INDEXED BY: the
 * planner would otherwise pick events_claim (status, next_attempt_at) and sort every pending row.
 */
export const CLAIM_SQL = `UPDATE events
  SET status = 'running', lease_owner = :owner, lease_until = :until,
      attempts = attempts + 1, updated_at = :now
  WHERE rowid IN (SELECT r FROM (
    SELECT * FROM (SELECT rowid AS r, received_at AS k FROM events INDEXED BY events_ready
      WHERE status = 'pending' AND next_attempt_at IS NULL AND ${ORDER_HEAD_SQL}
      ORDER BY received_at LIMIT :limit)
    UNION ALL
    SELECT * FROM (SELECT rowid AS r, run_at AS k FROM events INDEXED BY events_due
      WHERE run_at <= :now AND ${ORDER_HEAD_SQL} ORDER BY run_at LIMIT :limit)
    ORDER BY k LIMIT :limit))
  RETURNING ${COLUMNS}`;

/** Leases one event by key unless done, dead or leased by another owner. */
export const CLAIM_ONE_SQL = `UPDATE events
  SET status = 'running', lease_owner = :owner, lease_until = :until,
      attempts = attempts + 1, updated_at = :now
  WHERE provider = :provider AND id = :id
    AND status NOT IN ('done', 'dead')
    AND NOT (status = 'running' AND lease_owner IS NOT :owner AND lease_until >= :now)
  RETURNING ${COLUMNS}`;

/** The condition of a lease-bound outcome: the row is running under `:owner`. */
export const LEASED_WHERE =
  "provider = :provider AND id = :id AND status = 'running' AND lease_owner = :owner";
/** The SET clause that puts an event back to pending now, attempts reset. */
export const REQUEUE_SET = `status = 'pending', next_attempt_at = :now, attempts = 0,
  lease_owner = NULL, lease_until = NULL, updated_at = :now`;

/** The multi-row INSERT of `rows` accepts; a live tombstone keeps an id out (a duplicate). */
export function insertSql(rows: number, retentionMs: number): string {
  const values = Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(
    ", ",
  );
  return `INSERT INTO events
    (provider, id, webhook, type, payload, received_at, source, status, attempts, updated_at,
      order_key, order_at, headers)
    SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
      0, v.column6, v.column9, v.column10, v.column11
    FROM (VALUES ${values}) AS v
    WHERE NOT EXISTS (SELECT 1 FROM purged p
      WHERE p.provider = v.column1 AND p.id = v.column2 AND p.received_at > v.column6 - ${retentionMs})
    ON CONFLICT (provider, id) DO NOTHING
    RETURNING provider, id`;
}

/**
 * The probe write: a tombstone row written and removed in one transaction. It takes the write
 * lock and dirties a page, so a locked, read-only or full database fails it.
 */
export const PROBE: SqlStatement[] = [
  {
    sql: `INSERT OR REPLACE INTO purged (provider, id, status, received_at, purged_at)
      VALUES ('~whd-probe', '~whd-probe', 'done', 0, 0)`,
    args: [],
  },
  { sql: `DELETE FROM purged WHERE provider = '~whd-probe'`, args: [] },
];

/** A number column, or null. */
export function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** A text column, or null. */
export function str(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Every row of a result as a {@linkcode StoredEvent} (columns in {@linkcode COLUMNS} order). */
export function toStoredAll(rs: SqlResult): StoredEvent[] {
  return rs.rows.map((row) => ({
    id: String(row[1]),
    provider: String(row[0]),
    webhook: String(row[2]),
    type: String(row[3]),
    payload: String(row[4]),
    received_at: Number(row[5]),
    source: row[6] as StoredEvent["source"],
    status: row[7] as EventStatus,
    attempts: Number(row[8]),
    next_attempt_at: num(row[9]),
    lease_owner: str(row[10]),
    lease_until: num(row[11]),
    last_error: str(row[12]),
    updated_at: Number(row[13]),
    completed_at: num(row[14]),
  }));
}
