/**
 * The inbox's queries off the delivery and run paths: listing and finding events, counts and
 * backlog for `whd events` and metrics, and the named locks (one reconcile at a time). Each
 * runs one statement through the store's bounded `execute`.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { COLUMNS, num, REQUEUE_SET, toStoredAll } from "./inbox_sql.ts";
import type { SqlResult, SqlStatement } from "./sql_engine.ts";
import {
  type Backlog,
  EVENT_STATUSES,
  type EventKey,
  type EventStatus,
  type ListFilter,
  REQUEUEABLE_STATUSES,
  type RequeueTarget,
  type StoredEvent,
} from "./types.ts";

/** Runs one statement within the store's deadline. */
export type Execute = (stmt: SqlStatement) => Promise<SqlResult>;

/** Events matching `filter`, newest first. */
export async function listEvents(
  execute: Execute,
  filter: ListFilter = {},
): Promise<StoredEvent[]> {
  const where: string[] = [];
  const args: Record<string, string | number> = { limit: filter.limit ?? 50 };
  if (filter.status !== undefined) {
    where.push("status = :status");
    args.status = filter.status;
  }
  if (filter.provider !== undefined) {
    where.push("provider = :provider");
    args.provider = filter.provider;
  }
  if (filter.type !== undefined) {
    where.push("type = :type");
    args.type = filter.type;
  }
  const rs = await execute({
    sql: `SELECT ${COLUMNS} FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY received_at DESC, rowid DESC LIMIT :limit`,
    args,
  });
  return toStoredAll(rs);
}

/** Every stored event with `id` (of `provider`, when given). */
export async function findEvents(
  execute: Execute,
  id: string,
  provider?: string,
): Promise<StoredEvent[]> {
  const rs = await execute(
    provider === undefined
      ? { sql: `SELECT ${COLUMNS} FROM events WHERE id = ? ORDER BY provider`, args: [id] }
      : {
        sql: `SELECT ${COLUMNS} FROM events WHERE id = ? AND provider = ?`,
        args: [id, provider],
      },
  );
  return toStoredAll(rs);
}

/** How many events there are in each status. */
export async function countEvents(execute: Execute): Promise<Record<EventStatus, number>> {
  const rs = await execute({
    sql: "SELECT status, COUNT(*) AS n FROM events GROUP BY status",
    args: [],
  });
  const counts = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as Record<
    EventStatus,
    number
  >;
  for (const row of rs.rows) counts[row[0] as EventStatus] = Number(row[1]);
  return counts;
}

// Locks and backlog (migration 3): one statement each, outside the grouped write path.
/** Takes (or renews) the named lock for `owner` until `now + ttlMs`; true when it holds it. */
export async function acquireLock(
  execute: Execute,
  name: string,
  owner: string,
  ttlMs: number,
  now: number,
): Promise<boolean> {
  const rs = await execute({
    sql: `INSERT INTO locks (name, owner, until) VALUES (:name, :owner, :until)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
      WHERE locks.until <= :now OR locks.owner = excluded.owner`,
    args: { name, owner, until: now + ttlMs, now },
  });
  return rs.rowsAffected === 1;
}

/** Gives the named lock up, if `owner` holds it; true when it did. */
export async function releaseLock(execute: Execute, name: string, owner: string): Promise<boolean> {
  const rs = await execute({
    sql: "DELETE FROM locks WHERE name = :name AND owner = :owner",
    args: { name, owner },
  });
  return rs.rowsAffected === 1;
}

/** Events waiting by status and the receipt time of the oldest waiting one. */
export async function readBacklog(execute: Execute): Promise<Backlog> {
  const waiting = EVENT_STATUSES.filter((s) => s !== "done");
  const [counted, oldest] = await Promise.all([
    execute({
      sql: `SELECT status, COUNT(*) FROM events WHERE status IN (${
        waiting.map((s) => `'${s}'`).join(", ")
      }) GROUP BY status`,
      args: [],
    }),
    execute({
      // events_ready gives the oldest fresh pending row at once; rows waiting for a time
      // (retries, releases, replays) are found through events_claim (status, next_attempt_at).
      sql: `SELECT MIN(t) FROM (
          SELECT MIN(received_at) AS t FROM events INDEXED BY events_ready
            WHERE status = 'pending' AND next_attempt_at IS NULL
          UNION ALL
          SELECT MIN(received_at) FROM events
            WHERE status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL)`,
      args: [],
    }),
  ]);
  const counts = Object.fromEntries(waiting.map((s) => [s, 0])) as Backlog["counts"];
  for (const row of counted.rows) counts[row[0] as keyof Backlog["counts"]] = Number(row[1]);
  return { counts, oldestWaitingAt: num(oldest.rows[0]?.[0]) };
}

/**
 * Puts an event (by key) or every event of a status (of a provider, of a type) back to pending
 * now; the keys re-queued. With `limit`, at most that many events of the status (call again
 * until fewer come back: each call is a short transaction, so deliveries are not held up); with
 * `updatedBy`, only events last changed by then (so events that ran and came back to the status
 * since the first call are not taken again).
 */
export async function requeueEvents(
  execute: Execute,
  target: RequeueTarget,
  now: number,
): Promise<EventKey[]> {
  let sql: string;
  const args: Record<string, string | number> = { now };
  if ("id" in target) {
    sql = `UPDATE events SET ${REQUEUE_SET}
      WHERE provider = :provider AND id = :id
        AND status IN (${REQUEUEABLE_STATUSES.map((s) => `'${s}'`).join(", ")})`;
    args.provider = target.provider;
    args.id = target.id;
  } else {
    if (!REQUEUEABLE_STATUSES.includes(target.status)) {
      throw new UserError(
        `cannot requeue events with status ${target.status}: only ${
          REQUEUEABLE_STATUSES.join(", ")
        } events can be requeued` +
          (target.status === "done" ? " (use replay to run done events again)" : ""),
      );
    }
    // The status is a checked literal, so SQLite can use the partial indexes of its rows.
    const where = `status = '${target.status}'` +
      (target.provider === undefined ? "" : " AND provider = :provider") +
      (target.type === undefined ? "" : " AND type = :type") +
      (target.updatedBy === undefined ? "" : " AND updated_at <= :updatedBy");
    sql = target.limit === undefined
      ? `UPDATE events SET ${REQUEUE_SET} WHERE ${where}`
      : `UPDATE events SET ${REQUEUE_SET}
        WHERE rowid IN (SELECT rowid FROM events WHERE ${where} LIMIT ${
        Math.max(1, Math.floor(target.limit))
      })`;
    if (target.provider !== undefined) args.provider = target.provider;
    if (target.type !== undefined) args.type = target.type;
    if (target.updatedBy !== undefined) args.updatedBy = target.updatedBy;
  }
  const rs = await execute({ sql: `${sql} RETURNING provider, id`, args });
  return rs.rows
    .map((r) => ({ provider: String(r[0]), id: String(r[1]) }))
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.id.localeCompare(b.id));
}

/** Puts a done event back to pending as a replay; true when it did. */
export async function replayEvent(execute: Execute, key: EventKey, now: number): Promise<boolean> {
  const rs = await execute({
    sql: `UPDATE events SET status = 'pending', source = 'replay', attempts = 0,
        next_attempt_at = :now, completed_at = NULL, last_error = NULL,
        lease_owner = NULL, lease_until = NULL, updated_at = :now
      WHERE provider = :provider AND id = :id AND status = 'done'`,
    args: { now, provider: key.provider, id: key.id },
  });
  return rs.rowsAffected === 1;
}
