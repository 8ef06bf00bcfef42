/**
 * The console's reads of the store: a page of events (keyset, newest first), one event with its
 * headers and attempts, counts, dead-letter groups, deliveries and outcomes per time bucket and
 * a cheap change mark for live updates. Each is one or two statements through the store's
 * bounded `execute`, and each reads an index range cut by a LIMIT, a window of
 * {@linkcode SCAN_WINDOW} entries or a time range, so no request holds the store (and the
 * deliveries waiting on it) for long (the plans are checked in
 * `tests/console/query_plans_test.ts`); `console_schema.ts` has the indexes.
 *
 * @example
 * ```ts ignore
 * const queries = inbox.console();
 * const { events, next } = await queries.list({ status: "dead", limit: 20 });
 * ```
 * @module
 */
import { type AttemptRecord, attemptSelect, toAttempts } from "./attempts.ts";
import { TROUBLE_STATUSES, TROUBLE_WHERE } from "./console_schema.ts";
import type { Execute } from "./inbox_queries.ts";
import { num, str } from "./inbox_sql.ts";
import type { SqlResult } from "./sql_engine.ts";
import type { EventSource } from "../event.ts";
import { EVENT_STATUSES, type EventKey, type EventStatus } from "./types.ts";

/** One row of the console's event list. Times are ms since the epoch. */
export interface EventSummary {
  provider: string;
  id: string;
  webhook: string;
  type: string;
  status: EventStatus;
  source: EventSource;
  attempts: number;
  received_at: number;
  updated_at: number;
  completed_at: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
}

/** One event with its payload and kept request headers. */
export interface EventDetail extends EventSummary {
  /** Raw JSON text. */
  payload: string;
  /** The kept request headers (`{}` for events stored before they were kept). */
  headers: Record<string, string>;
}

/** What the event list can be narrowed by; every field optional. */
export interface ConsoleFilter {
  provider?: string;
  webhook?: string;
  type?: string;
  status?: EventStatus;
  /** Received at or after (ms). */
  since?: number;
  /** Received before (ms). */
  until?: number;
  /** An event id or the start of one. */
  q?: string;
  /** From {@linkcode ConsolePage.next}. */
  cursor?: string;
  /** Rows per page (1–200; default 50). */
  limit?: number;
}

/** A page of events and the cursor of the next one (null: this was the last). */
export interface ConsolePage {
  events: EventSummary[];
  next: string | null;
}

/** Dead events of one provider and type. */
export interface DeadGroup {
  provider: string;
  type: string;
  count: number;
  /** The error of the newest dead event of the group. */
  last_error: string | null;
  newest_at: number;
}

/** Deliveries received and handler runs started in one time bucket, by outcome. */
export interface ThroughputBucket {
  /** Start of the bucket (ms). */
  t: number;
  received: number;
  ok: number;
  error: number;
  timeout: number;
  crashed: number;
}

/** The console's queries, bound to one store. */
export interface ConsoleQueries {
  /** A page of events newest first (received_at, then insertion order). */
  list(filter: ConsoleFilter): Promise<ConsolePage>;
  /** One event and its recorded runs (oldest first); null when there is no such event. */
  detail(key: EventKey): Promise<{ event: EventDetail; attempts: AttemptRecord[] } | null>;
  /** Events per status. */
  counts(): Promise<Record<EventStatus, number>>;
  /** Dead events grouped by provider and type, largest group first. */
  dead(): Promise<DeadGroup[]>;
  /** `count` buckets of `bucketMs` starting at `from` (every bucket present, oldest first). */
  throughput(from: number, bucketMs: number, count: number): Promise<ThroughputBucket[]>;
  /**
   * `mark` changes whenever the store's content may have changed (this connection's change
   * counter, SQLite's data version for other processes' commits, the newest receipt); one
   * statement without a table read.
   */
  changeMark(): Promise<{ mark: string; newestReceivedAt: number | null }>;
}

/** Most rows in one page. */
export const MAX_PAGE = 200;
/** Most id matches a search (`q`) sorts by time; a longer prefix narrows it. */
export const MAX_SEARCH_MATCHES = 1000;
/**
 * Index entries one list request looks at when a filter needs the row (pending, running, done,
 * provider, webhook, type): at ~2 µs a row, one request holds the store for ~10 ms at most.
 */
export const SCAN_WINDOW = 5000;

const _SUMMARY =
  "rowid, provider, id, webhook, type, status, source, attempts, received_at, updated_at, completed_at, next_attempt_at, last_error";

/** {@linkcode _SUMMARY} of the events row named `e`. */
const _E_SUMMARY = _SUMMARY.split(", ").map((c) => `e.${c}`).join(", ");

/** Rows of a `_SUMMARY` select as summaries (the rowid is left out). */
function _summaries(rs: SqlResult): { rowid: number; event: EventSummary }[] {
  return rs.rows.map((row) => ({
    rowid: Number(row[0]),
    event: {
      provider: String(row[1]),
      id: String(row[2]),
      webhook: String(row[3]),
      type: String(row[4]),
      status: row[5] as EventStatus,
      source: row[6] as EventSource,
      attempts: Number(row[7]),
      received_at: Number(row[8]),
      updated_at: Number(row[9]),
      completed_at: num(row[10]),
      next_attempt_at: num(row[11]),
      last_error: str(row[12]),
    },
  }));
}

/** The opaque cursor after a row: its receipt time and rowid. */
export function encodeCursor(receivedAt: number, rowid: number): string {
  return btoa(`${receivedAt}.${rowid}`).replaceAll("=", "");
}

/** The receipt time and rowid in a cursor; undefined when it is not one. */
export function decodeCursor(cursor: string): { t: number; r: number } | undefined {
  let text: string;
  try {
    text = atob(cursor);
  } catch {
    return undefined;
  }
  const match = /^(\d{1,16})\.(\d{1,19})$/.exec(text);
  return match ? { t: Number(match[1]), r: Number(match[2]) } : undefined;
}

/**
 * The providers present in the store, each found by one seek in the primary key (a loose index
 * scan), so a search by id can seek (provider, id) without a provider.
 */
const _PROVIDERS_SQL = `WITH RECURSIVE p(name) AS (
    SELECT MIN(provider) FROM events
    UNION ALL
    SELECT (SELECT MIN(provider) FROM events WHERE provider > p.name) FROM p
      WHERE p.name IS NOT NULL)
  SELECT name FROM p WHERE name IS NOT NULL`;

/** A list query: the page's statement and, for a filter the index cannot serve, the window's end. */
export interface ListPlan {
  /** Rows per page asked for (the statement asks one more, to know there is a next page). */
  limit: number;
  stmt: { sql: string; args: Record<string, string | number> };
  /**
   * When rows are looked at in a window of {@linkcode SCAN_WINDOW} index entries: the statement
   * of the window's last entry (a page may end there with fewer rows than `limit`).
   */
  windowEnd?: { sql: string; args: Record<string, string | number> };
}

/** The list plan of `filter` (exported for the query-plan test). */
export function listStatement(filter: ConsoleFilter): ListPlan {
  const limit = Math.min(MAX_PAGE, Math.max(1, filter.limit ?? 50));
  // Conditions the index answers (keys) and conditions that need the row (checked on `e`).
  const keys: string[] = [];
  const rows: string[] = [];
  const args: Record<string, string | number> = { limit: limit + 1 };
  const trouble = filter.status !== undefined &&
    (TROUBLE_STATUSES as readonly string[]).includes(filter.status);
  const search = filter.q !== undefined;
  if (filter.status !== undefined) {
    if (!EVENT_STATUSES.includes(filter.status)) throw new RangeError("unknown status");
    // A literal (checked above), so SQLite can prove the partial index's condition.
    if (trouble && !search) keys.push(`status = '${filter.status}'`, TROUBLE_WHERE);
    else rows.push(`e.status = '${filter.status}'`);
  }
  for (const field of ["provider", "webhook", "type"] as const) {
    if (filter[field] === undefined) continue;
    args[field] = filter[field]!;
    if (field === "provider" && search) keys.push("provider = :provider");
    else rows.push(`e.${field} = :${field}`);
  }
  const time = search ? rows : keys;
  const col = search ? "e." : "";
  if (filter.since !== undefined) {
    time.push(`${col}received_at >= :since`);
    args.since = filter.since;
  }
  if (filter.until !== undefined) {
    time.push(`${col}received_at < :until`);
    args.until = filter.until;
  }
  const cursor = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  if (cursor) {
    time.push(
      `${col}received_at <= :ct AND (${col}received_at < :ct OR ${col}rowid < :cr)`,
    );
    args.ct = cursor.t;
    args.cr = cursor.r;
  }
  const and = (conds: string[]) => conds.length > 0 ? `WHERE ${conds.join(" AND ")}` : "";
  const newest = "ORDER BY received_at DESC, rowid DESC";
  if (search) {
    // The id range in the primary key (per provider), cut at MAX_SEARCH_MATCHES before any row
    // is read; those few rows are filtered and sorted by time.
    keys.push("id >= :q AND id < :qEnd");
    args.q = filter.q!;
    args.qEnd = `${filter.q}\u{10FFFF}`;
    if (filter.provider === undefined) keys.push(`provider IN (${_PROVIDERS_SQL})`);
    return {
      limit,
      stmt: {
        sql: `SELECT ${_E_SUMMARY} FROM (SELECT rowid AS r FROM events
            INDEXED BY sqlite_autoindex_events_1 ${and(keys)}
            ORDER BY provider, id LIMIT ${MAX_SEARCH_MATCHES}) AS w
          CROSS JOIN events AS e ON e.rowid = w.r ${and(rows)}
          ORDER BY e.received_at DESC, e.rowid DESC LIMIT :limit`,
        args,
      },
    };
  }
  // Newest first straight off an index: the trouble statuses' own, else all receipts.
  const index = trouble ? "events_trouble" : "events_received";
  if (rows.length === 0) {
    return {
      limit,
      stmt: {
        sql: `SELECT ${_SUMMARY} FROM events INDEXED BY ${index} ${and(keys)} ${newest}
          LIMIT :limit`,
        args,
      },
    };
  }
  // A condition the index cannot answer: rows are looked at in a window of SCAN_WINDOW index
  // entries, newest first, so a rare match far back costs pages, never one long walk.
  const window = `SELECT rowid AS r, received_at AS t FROM events INDEXED BY ${index}
    ${and(keys)} ${newest}`;
  const keyArgs = Object.fromEntries(
    Object.entries(args).filter(([k]) => !["limit", "provider", "webhook", "type"].includes(k)),
  );
  return {
    limit,
    stmt: {
      sql: `SELECT ${_E_SUMMARY} FROM (${window} LIMIT ${SCAN_WINDOW}) AS w
        CROSS JOIN events AS e ON e.rowid = w.r ${and(rows)}
        ORDER BY w.t DESC, w.r DESC LIMIT :limit`,
      args,
    },
    windowEnd: {
      sql: `SELECT t, r FROM (${window} LIMIT 1 OFFSET ${SCAN_WINDOW - 1})`,
      args: keyArgs,
    },
  };
}

/** The statement of per-bucket throughput (exported for the query-plan test). */
export function throughputStatement(
  from: number,
  bucketMs: number,
  count: number,
): { sql: string; args: Record<string, number> } {
  const outcome = (name: string) =>
    `(SELECT COUNT(*) FROM attempts INDEXED BY attempts_started
      WHERE outcome = '${name}' AND started_at >= b.t AND started_at < b.t + :bucket)`;
  return {
    sql: `WITH RECURSIVE b(t) AS (
        SELECT :from UNION ALL SELECT t + :bucket FROM b WHERE t + :bucket < :to)
      SELECT b.t,
        (SELECT COUNT(*) FROM events INDEXED BY events_received
          WHERE received_at >= b.t AND received_at < b.t + :bucket),
        ${["ok", "error", "timeout", "crashed"].map(outcome).join(", ")}
      FROM b`,
    args: { from, bucket: bucketMs, to: from + bucketMs * count },
  };
}

/**
 * The dead-letter groups statement: one pass over `events_dead` in group order without table
 * reads, then one seek per group for its newest error.
 */
export const DEAD_GROUPS_SQL = `SELECT g.provider, g.type, g.n, g.newest,
    (SELECT e.last_error FROM events e INDEXED BY events_dead
      WHERE e.status = 'dead' AND e.provider = g.provider AND e.type = g.type
      ORDER BY e.received_at DESC LIMIT 1)
  FROM (SELECT provider, type, COUNT(*) AS n, MAX(received_at) AS newest
    FROM events INDEXED BY events_dead WHERE status = 'dead' GROUP BY provider, type) AS g`;

/** Counts per status: one pass over the (status, …) index, no table reads. */
export const COUNTS_SQL = "SELECT status, COUNT(*) FROM events GROUP BY status";

/** The change mark statement (see {@linkcode ConsoleQueries.changeMark}). */
export const CHANGE_MARK_SQL = `SELECT total_changes(),
  (SELECT data_version FROM pragma_data_version), (SELECT MAX(received_at) FROM events)`;

/** The console's queries over `execute`. */
export function consoleQueries(execute: Execute): ConsoleQueries {
  return {
    async list(filter) {
      const plan = listStatement(filter);
      const rows = _summaries(await execute(plan.stmt));
      const page = rows.slice(0, plan.limit);
      const last = page[page.length - 1];
      let next: string | null = null;
      if (rows.length > plan.limit && last) {
        next = encodeCursor(last.event.received_at, last.rowid);
      } else if (plan.windowEnd) {
        // The window was full: the rows beyond it are the next page's to look at.
        const end = (await execute(plan.windowEnd)).rows[0];
        if (end) next = encodeCursor(Number(end[0]), Number(end[1]));
      }
      return { events: page.map((r) => r.event), next };
    },

    async detail(key) {
      const [found, attempts] = await Promise.all([
        execute({
          sql: `SELECT ${_SUMMARY}, payload, headers FROM events WHERE provider = ? AND id = ?`,
          args: [key.provider, key.id],
        }),
        execute(attemptSelect(key)),
      ]);
      const row = found.rows[0];
      if (row === undefined) return null;
      const [{ event }] = _summaries(found);
      return {
        event: { ...event, payload: String(row[13]), headers: _headers(row[14]) },
        attempts: toAttempts(attempts),
      };
    },

    async counts() {
      const rs = await execute({ sql: COUNTS_SQL, args: [] });
      const counts = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as Record<
        EventStatus,
        number
      >;
      for (const row of rs.rows) counts[row[0] as EventStatus] = Number(row[1]);
      return counts;
    },

    async dead() {
      const rs = await execute({ sql: DEAD_GROUPS_SQL, args: [] });
      return rs.rows.map((row) => ({
        provider: String(row[0]),
        type: String(row[1]),
        count: Number(row[2]),
        newest_at: Number(row[3]),
        last_error: str(row[4]),
      })).sort((a, b) => b.count - a.count || b.newest_at - a.newest_at);
    },

    async throughput(from, bucketMs, count) {
      const rs = await execute(throughputStatement(from, bucketMs, count));
      return rs.rows.map((row) => ({
        t: Number(row[0]),
        received: Number(row[1]),
        ok: Number(row[2]),
        error: Number(row[3]),
        timeout: Number(row[4]),
        crashed: Number(row[5]),
      }));
    },

    async changeMark() {
      const rs = await execute({ sql: CHANGE_MARK_SQL, args: [] });
      const row = rs.rows[0];
      return { mark: row.join(":"), newestReceivedAt: num(row[2]) };
    },
  };
}

/** The stored headers JSON as an object (`{}` when none or unreadable). */
function _headers(value: unknown): Record<string, string> {
  if (typeof value !== "string") return {};
  try {
    const parsed = JSON.parse(value);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
