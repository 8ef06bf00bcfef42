/**
 * The inbox on libSQL: a local SQLite file (`file:`) or a libSQL server (`libsql:`, `http(s):`).
 *
 * Writes use group commit: accepts, claims and lease-bound outcomes (complete, fail, bury,
 * markUnhandled, release) that arrive while a write is being prepared or is in flight are
 * gathered and written in one transaction (up to `maxBatch` calls), so one fsync covers many of
 * them; every promise settles only after its transaction committed (or failed). Each claim and
 * outcome is one atomic statement inside that transaction with its own lease check, so several
 * processes sharing one file (the daemon and the CLI) never lease the same event twice, and a
 * lost lease still answers false for its own row only.
 *
 * Claims are two index range scans (fresh pending rows by arrival; rows due at a time by
 * `run_at`) merged in order, so their cost does not grow with the backlog. For `file:` URLs the connection lives in a worker (the driver is
 * synchronous); every call waits at most `deadlineMs` and then fails with
 * {@linkcode StoreUnavailable}. Purged events leave a tombstone, so a provider's retry or a
 * backfill of a purged id stays a duplicate for `dedupeRetentionMs` after it was received.
 *
 * @example
 * ```ts
 * import { openInbox } from "./libsql_inbox.ts";
 * const inbox = await openInbox({ url: "file:data/whd.db" });
 * const { duplicate } = await inbox.accept({
 *   id: "evt_1", provider: "stripe", webhook: "stripe", type: "charge.succeeded",
 *   payload: "{}", receivedAt: Date.now(), source: "delivery",
 * });
 * inbox.close();
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import type { IncomingEvent } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { errorMessage, UserError } from "../errors.ts";
import {
  type EngineOptions,
  filePathOf,
  openClientEngine,
  type SqlEngine,
  type SqlResult,
  type SqlStatement,
  type SqlValue,
} from "./sql_engine.ts";
import { openWorkerEngine } from "./worker_engine.ts";
import {
  type AcceptResult,
  type Backlog,
  EVENT_STATUSES,
  type EventKey,
  eventKeyString,
  type EventStatus,
  type Inbox,
  type ListFilter,
  REQUEUEABLE_STATUSES,
  type StoredEvent,
  StoreUnavailable,
} from "./types.ts";

/** Default of {@linkcode OpenInboxOptions.dedupeRetentionMs}: 30 days. */
export const DEFAULT_DEDUPE_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** Options for {@linkcode openInbox}. */
export interface OpenInboxOptions extends EngineOptions {
  log?: Logger;
  /** Most calls written in one transaction. Default 256; 1 turns group commit off. */
  maxBatch?: number;
  /**
   * Longest wait of any call for the store; past it the call fails with
   * {@linkcode StoreUnavailable} (the write may still commit later). Default 2000.
   */
  deadlineMs?: number;
  /** How long a purged event's id stays a dedupe key, from when it was received. Default 30 d. */
  dedupeRetentionMs?: number;
  /** Current time in ms (purge uses it to drop expired tombstones). Default `Date.now`. */
  now?: () => number;
  /**
   * Run a `file:` database in a worker (default true). False runs the driver on the calling
   * thread, as libSQL server URLs always do.
   */
  worker?: boolean;
}

/** Counters of the write path, for tests, benchmarks and metrics. */
export interface InboxStats {
  /** `accept` calls so far. */
  accepts: number;
  /** Write transactions that held accepts (committed or not). */
  acceptTransactions: number;
  /** Of those, the ones that failed. */
  failedTransactions: number;
  /** Most accepts written in one transaction. */
  largestBatch: number;
  /** Grouped write transactions of any kind (accepts, claims, outcomes). */
  writeTransactions: number;
  /** Calls that failed with StoreUnavailable (no answer within the deadline). */
  timeouts: number;
}

/** The libSQL inbox: the {@linkcode Inbox} contract plus write-path counters. */
export interface LibsqlInbox extends Inbox {
  /** A snapshot of the write-path counters. */
  stats(): InboxStats;
  /** Resolves once the connection closed by `close()` is released (the file is free). */
  whenClosed(): Promise<void>;
  /**
   * Whether the store is answering: unavailable from a write that failed or a call that timed
   * out, until the next write commits. `reason` is the error's message (no secrets: driver
   * messages carry no URL credentials) and `since` when it started (ms since the epoch).
   */
  health(): { available: true } | { available: false; reason: string; since: number };
}

/**
 * Opens (creating and migrating as needed) the inbox at `url`.
 *
 * For `file:` URLs the parent directory is created, the journal is WAL, writes wait up to
 * `busyTimeoutMs` for other processes, and `synchronous=FULL` makes every commit durable before
 * its promise resolves. Throws a {@linkcode UserError} when the database cannot be opened or was
 * written by a newer whd.
 */
export async function openInbox(options: OpenInboxOptions): Promise<LibsqlInbox> {
  const maxBatch = options.maxBatch ?? 256;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  }
  const engineOptions: EngineOptions = {
    url: options.url,
    authToken: options.authToken,
    busyTimeoutMs: options.busyTimeoutMs,
    native: options.native,
  };
  const local = filePathOf(options.url) !== undefined;
  const engine = local && options.worker !== false
    ? await openWorkerEngine(engineOptions)
    : await openClientEngine(engineOptions);
  return new _LibsqlInbox(engine, {
    maxBatch,
    deadlineMs: options.deadlineMs ?? 2000,
    retentionMs: options.dedupeRetentionMs ?? DEFAULT_DEDUPE_RETENTION_MS,
    now: options.now ?? Date.now,
    log: options.log,
  });
}

/** A call waiting for the next grouped write. */
interface _Waiting {
  /** Set once the caller's promise settled (answered, failed or timed out). */
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** An accept, or a statement whose result `map` turns into the answer. */
  accept?: { event: IncomingEvent; status: "pending" | "ignored" };
  stmt?: SqlStatement;
  map?(result: SqlResult): unknown;
}

/** Columns of a {@linkcode StoredEvent}, in its order. */
const _COLUMNS =
  "provider, id, webhook, type, payload, received_at, source, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at, completed_at";

/**
 * The claim statement (`:owner`, `:until`, `:now`, `:limit`): two index range scans, fresh
 * pending rows by arrival and rows due by `run_at`, merged and cut at `:limit`. INDEXED BY: the
 * planner would otherwise pick events_claim (status, next_attempt_at) and sort every pending row.
 */
export const CLAIM_SQL = `UPDATE events
  SET status = 'running', lease_owner = :owner, lease_until = :until,
      attempts = attempts + 1, updated_at = :now
  WHERE rowid IN (SELECT r FROM (
    SELECT * FROM (SELECT rowid AS r, received_at AS k FROM events INDEXED BY events_ready
      WHERE status = 'pending' AND next_attempt_at IS NULL ORDER BY received_at LIMIT :limit)
    UNION ALL
    SELECT * FROM (SELECT rowid AS r, run_at AS k FROM events INDEXED BY events_due
      WHERE run_at <= :now ORDER BY run_at LIMIT :limit)
    ORDER BY k LIMIT :limit))
  RETURNING ${_COLUMNS}`;

const _CLAIM_ONE = `UPDATE events
  SET status = 'running', lease_owner = :owner, lease_until = :until,
      attempts = attempts + 1, updated_at = :now
  WHERE provider = :provider AND id = :id
    AND status NOT IN ('done', 'dead')
    AND NOT (status = 'running' AND lease_owner IS NOT :owner AND lease_until >= :now)
  RETURNING ${_COLUMNS}`;

const _LEASED = "provider = :provider AND id = :id AND status = 'running' AND lease_owner = :owner";
const _REQUEUE_SET = `status = 'pending', next_attempt_at = :now, attempts = 0,
  lease_owner = NULL, lease_until = NULL, updated_at = :now`;

/** The multi-row INSERT of `rows` accepts; a live tombstone keeps an id out (a duplicate). */
function _insertSql(rows: number, retentionMs: number): string {
  const values = Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, ?)").join(", ");
  return `INSERT INTO events
    (provider, id, webhook, type, payload, received_at, source, status, attempts, updated_at)
    SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
      0, v.column6
    FROM (VALUES ${values}) AS v
    WHERE NOT EXISTS (SELECT 1 FROM purged p
      WHERE p.provider = v.column1 AND p.id = v.column2 AND p.received_at > v.column6 - ${retentionMs})
    ON CONFLICT (provider, id) DO NOTHING
    RETURNING provider, id`;
}

class _LibsqlInbox implements LibsqlInbox {
  #engine: SqlEngine;
  #maxBatch: number;
  #deadlineMs: number;
  #retentionMs: number;
  #now: () => number;
  #log?: Logger;
  #queue: _Waiting[] = [];
  #writing = false;
  #closed = false;
  #whenClosed: Promise<void> | undefined;
  #unavailable: { reason: string; since: number } | undefined;
  #stats: InboxStats = {
    accepts: 0,
    acceptTransactions: 0,
    failedTransactions: 0,
    largestBatch: 0,
    writeTransactions: 0,
    timeouts: 0,
  };

  constructor(
    engine: SqlEngine,
    options: {
      maxBatch: number;
      deadlineMs: number;
      retentionMs: number;
      now: () => number;
      log?: Logger;
    },
  ) {
    this.#engine = engine;
    this.#maxBatch = options.maxBatch;
    this.#deadlineMs = options.deadlineMs;
    this.#retentionMs = Math.max(0, Math.floor(options.retentionMs));
    this.#now = options.now;
    this.#log = options.log;
  }

  stats(): InboxStats {
    return { ...this.#stats };
  }

  /** Starts the deadline of a call: past it the call fails with StoreUnavailable. */
  #waiting(
    resolve: (value: never) => void,
    reject: (error: unknown) => void,
    fields: Partial<_Waiting>,
  ): _Waiting {
    const w: _Waiting = {
      settled: false,
      timer: undefined,
      resolve: (value) => {
        if (w.settled) return;
        w.settled = true;
        clearTimeout(w.timer);
        resolve(value as never);
      },
      reject: (error) => {
        if (w.settled) return;
        w.settled = true;
        clearTimeout(w.timer);
        reject(error);
      },
      ...fields,
    };
    w.timer = setTimeout(() => {
      if (w.settled) return;
      this.#stats.timeouts++;
      const error = new StoreUnavailable(`no answer within ${this.#deadlineMs} ms`);
      this.#unavailable ??= { reason: error.message, since: this.#now() };
      w.reject(error);
    }, this.#deadlineMs);
    return w;
  }

  /** Runs `op` on the engine, failing with StoreUnavailable past the deadline. */
  #bounded<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the inbox is closed"));
    return new Promise<T>((resolve, reject) => {
      const w = this.#waiting(resolve, reject, {});
      op().then(w.resolve, w.reject);
    });
  }

  #execute(stmt: SqlStatement): Promise<SqlResult> {
    return this.#bounded(() => this.#engine.execute(stmt));
  }

  /** Queues a call for the next grouped write transaction. */
  #enqueue<T>(fields: Partial<_Waiting>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the inbox is closed"));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(this.#waiting(resolve, reject, fields));
      if (!this.#writing) {
        this.#writing = true;
        this.#drain();
      }
    });
  }

  accept(
    event: IncomingEvent,
    options?: { status?: "pending" | "ignored" },
  ): Promise<AcceptResult> {
    this.#stats.accepts++;
    return this.#enqueue({ accept: { event, status: options?.status ?? "pending" } });
  }

  /** Writes the queue in groups until it is empty. Never rejects. */
  async #drain(): Promise<void> {
    try {
      // Yield one macrotask (setImmediate costs ~10 µs; setTimeout(0) ~2 ms in Deno) so that
      // requests the event loop already has ready join this group, not only calls issued in
      // the same turn. Measured with 64 HTTP connections on one file: a microtask yield gave one
      // transaction per request; this gives ~20 accepts per transaction and 4× the requests/s.
      await new Promise((r) => setImmediate(r));
      while (this.#queue.length > 0) {
        // Calls that timed out while queued are not written: their callers were told so.
        const group = this.#queue.splice(0, this.#maxBatch).filter((w) => !w.settled);
        if (group.length === 0) continue;
        try {
          await this.#writeGroup(group);
        } catch (error) {
          // A bug or a malformed event: settle every caller rather than leave them hanging.
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  async #writeGroup(group: _Waiting[]): Promise<void> {
    const accepts = group.filter((w) => w.accept !== undefined);
    const others = group.filter((w) => w.accept === undefined);
    const stmts: SqlStatement[] = [];
    if (accepts.length > 0) {
      this.#stats.acceptTransactions++;
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, accepts.length);
      stmts.push({
        sql: _insertSql(accepts.length, this.#retentionMs),
        args: accepts.flatMap(({ accept }) => {
          const e = accept!.event;
          return [
            e.provider,
            e.id,
            e.webhook,
            e.type,
            e.payload,
            e.receivedAt,
            e.source,
            accept!.status,
          ];
        }),
      });
    }
    for (const w of others) stmts.push(w.stmt!);
    this.#stats.writeTransactions++;
    let results: SqlResult[];
    try {
      results = await this.#engine.batch(stmts);
    } catch (error) {
      if (accepts.length > 0) this.#stats.failedTransactions++;
      this.#log?.warn("inbox write failed", { calls: group.length, error });
      this.#unavailable ??= { reason: errorMessage(error), since: this.#now() };
      const failure = error instanceof StoreUnavailable ? error : new Error(
        `inbox write failed: ${errorMessage(error)}`,
        { cause: error },
      );
      for (const w of group) w.reject(failure);
      return;
    }
    this.#log?.debug("inbox group committed", { calls: group.length });
    this.#unavailable = undefined;
    const offset = accepts.length > 0 ? 1 : 0;
    others.forEach((w, i) => {
      try {
        w.resolve(w.map!(results[offset + i]));
      } catch (error) {
        w.reject(error);
      }
    });
    if (accepts.length > 0) await this.#settleAccepts(accepts, results[0]);
  }

  async #settleAccepts(accepts: _Waiting[], inserted: SqlResult): Promise<void> {
    const insertedKeys = new Set(
      inserted.rows.map((r) => eventKeyString({ provider: String(r[0]), id: String(r[1]) })),
    );
    // Status of each row written by this group; duplicates of those share it (first one wins).
    const written = new Map<string, EventStatus>();
    const lookups: _Waiting[] = [];
    for (const w of accepts) {
      const { event, status } = w.accept!;
      const key = eventKeyString(event);
      if (insertedKeys.has(key) && !written.has(key)) {
        written.set(key, status);
        w.resolve({ duplicate: false, status });
      } else if (written.has(key)) {
        w.resolve({ duplicate: true, status: written.get(key)! });
      } else {
        lookups.push(w);
      }
    }
    if (lookups.length > 0) await this.#resolveDuplicates(lookups);
  }

  /** Reads the current status of rows (or tombstones) that already existed before the group. */
  async #resolveDuplicates(waiting: _Waiting[]): Promise<void> {
    try {
      const keys = [
        ...new Map(waiting.map((w) => [eventKeyString(w.accept!.event), w.accept!.event]))
          .values(),
      ];
      const statuses = new Map<string, EventStatus>();
      for (let i = 0; i < keys.length; i += 200) {
        const chunk = keys.slice(i, i + 200);
        const values = chunk.map(() => "(?, ?)").join(", ");
        const args = chunk.flatMap((k) => [k.provider, k.id]);
        // A live row wins over a tombstone (an expired tombstone may outlive its successor).
        const rs = await this.#execute({
          sql: `SELECT provider, id, status, 1 AS live FROM events
              WHERE (provider, id) IN (VALUES ${values})
            UNION ALL SELECT provider, id, status, 0 AS live FROM purged
              WHERE (provider, id) IN (VALUES ${values})
            ORDER BY live`,
          args: [...args, ...args],
        });
        for (const row of rs.rows) {
          statuses.set(
            eventKeyString({ provider: String(row[0]), id: String(row[1]) }),
            row[2] as EventStatus,
          );
        }
      }
      for (const w of waiting) {
        const status = statuses.get(eventKeyString(w.accept!.event));
        if (status === undefined) {
          // Expired tombstone swept between the insert and this read.
          w.reject(
            new Error(
              `event ${w.accept!.event.provider}/${w.accept!.event.id} vanished during accept`,
            ),
          );
        } else {
          w.resolve({ duplicate: true, status });
        }
      }
    } catch (error) {
      for (const w of waiting) w.reject(error);
    }
  }

  claim(
    options: { owner: string; limit: number; leaseMs: number; now: number },
  ): Promise<StoredEvent[]> {
    if (options.limit <= 0) return Promise.resolve([]);
    return this.#enqueue({
      stmt: {
        sql: CLAIM_SQL,
        args: {
          owner: options.owner,
          until: options.now + options.leaseMs,
          now: options.now,
          limit: options.limit,
        },
      },
      // RETURNING has no defined order: put the leases back in arrival order.
      map: (rs) =>
        _toStoredAll(rs).sort((a, b) =>
          a.received_at - b.received_at || a.provider.localeCompare(b.provider) ||
          a.id.localeCompare(b.id)
        ),
    });
  }

  claimOne(
    key: EventKey,
    options: { owner: string; leaseMs: number; now: number },
  ): Promise<StoredEvent | null> {
    return this.#enqueue({
      stmt: {
        sql: _CLAIM_ONE,
        args: {
          provider: key.provider,
          id: key.id,
          owner: options.owner,
          until: options.now + options.leaseMs,
          now: options.now,
        },
      },
      map: (rs) => _toStoredAll(rs)[0] ?? null,
    });
  }

  complete(key: EventKey, owner: string, now: number): Promise<boolean> {
    return this.#leased(
      `status = 'done', completed_at = :now, next_attempt_at = NULL`,
      key,
      owner,
      { now },
    );
  }

  fail(
    key: EventKey,
    owner: string,
    error: string,
    retryAt: number,
    now: number,
  ): Promise<boolean> {
    return this.#leased(
      `status = 'failed', last_error = :error, next_attempt_at = :retryAt`,
      key,
      owner,
      { now, error, retryAt },
    );
  }

  bury(key: EventKey, owner: string, error: string, now: number): Promise<boolean> {
    return this.#leased(
      `status = 'dead', last_error = :error, next_attempt_at = NULL`,
      key,
      owner,
      { now, error },
    );
  }

  markUnhandled(key: EventKey, owner: string, now: number): Promise<boolean> {
    return this.#leased(`status = 'unhandled', next_attempt_at = NULL`, key, owner, { now });
  }

  release(key: EventKey, owner: string, now: number, notBefore?: number): Promise<boolean> {
    return this.#leased(
      `status = 'pending', attempts = MAX(attempts - 1, 0), next_attempt_at = :notBefore`,
      key,
      owner,
      { now, notBefore: notBefore ?? null },
    );
  }

  /**
   * Applies `set` to the row only while `owner` holds its lease; true when it did. Queued with
   * the other writes, so outcomes that arrive together share one transaction.
   */
  #leased(
    set: string,
    key: EventKey,
    owner: string,
    args: Record<string, SqlValue>,
  ): Promise<boolean> {
    return this.#enqueue({
      stmt: {
        sql: `UPDATE events SET ${set}, lease_owner = NULL, lease_until = NULL, updated_at = :now
          WHERE ${_LEASED}`,
        args: { ...args, provider: key.provider, id: key.id, owner },
      },
      map: (rs) => rs.rowsAffected === 1,
    });
  }

  async list(filter: ListFilter = {}): Promise<StoredEvent[]> {
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
    const rs = await this.#execute({
      sql: `SELECT ${_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY received_at DESC, rowid DESC LIMIT :limit`,
      args,
    });
    return _toStoredAll(rs);
  }

  async find(id: string, provider?: string): Promise<StoredEvent[]> {
    const rs = await this.#execute(
      provider === undefined
        ? { sql: `SELECT ${_COLUMNS} FROM events WHERE id = ? ORDER BY provider`, args: [id] }
        : {
          sql: `SELECT ${_COLUMNS} FROM events WHERE id = ? AND provider = ?`,
          args: [id, provider],
        },
    );
    return _toStoredAll(rs);
  }

  async requeue(
    target: EventKey | { status: EventStatus; provider?: string },
    now: number,
  ): Promise<EventKey[]> {
    let sql: string;
    const args: Record<string, string | number> = { now };
    if ("id" in target) {
      sql = `UPDATE events SET ${_REQUEUE_SET}
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
      sql = `UPDATE events SET ${_REQUEUE_SET} WHERE status = :status` +
        (target.provider === undefined ? "" : " AND provider = :provider");
      args.status = target.status;
      if (target.provider !== undefined) args.provider = target.provider;
    }
    const rs = await this.#execute({ sql: `${sql} RETURNING provider, id`, args });
    return rs.rows
      .map((r) => ({ provider: String(r[0]), id: String(r[1]) }))
      .sort((a, b) => a.provider.localeCompare(b.provider) || a.id.localeCompare(b.id));
  }

  async replay(key: EventKey, now: number): Promise<boolean> {
    const rs = await this.#execute({
      sql: `UPDATE events SET status = 'pending', source = 'replay', attempts = 0,
          next_attempt_at = :now, completed_at = NULL, last_error = NULL,
          lease_owner = NULL, lease_until = NULL, updated_at = :now
        WHERE provider = :provider AND id = :id AND status = 'done'`,
      args: { now, provider: key.provider, id: key.id },
    });
    return rs.rowsAffected === 1;
  }

  /**
   * Deletes done and ignored rows received before `before`, keeping each one's (provider, id)
   * as a tombstone until `dedupeRetentionMs` after it was received; drops expired tombstones.
   * Returns how many events were deleted.
   */
  async purge(before: number): Promise<number> {
    const now = this.#now();
    const cutoff = now - this.#retentionMs;
    const purgeable = "status IN ('done', 'ignored') AND received_at < :before";
    const results = await this.#bounded(() =>
      this.#engine.batch([
        {
          sql: `INSERT INTO purged (provider, id, status, received_at, purged_at)
            SELECT provider, id, status, received_at, :now FROM events
            WHERE ${purgeable} AND received_at > :cutoff
            ON CONFLICT (provider, id) DO UPDATE SET status = excluded.status,
              received_at = excluded.received_at, purged_at = excluded.purged_at`,
          args: { before, now, cutoff },
        },
        { sql: `DELETE FROM events WHERE ${purgeable}`, args: { before } },
        { sql: "DELETE FROM purged WHERE received_at <= :cutoff", args: { cutoff } },
      ])
    );
    return results[1].rowsAffected;
  }

  async counts(): Promise<Record<EventStatus, number>> {
    const rs = await this.#execute({
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
  async acquireLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    const rs = await this.#execute({
      sql: `INSERT INTO locks (name, owner, until) VALUES (:name, :owner, :until)
        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
        WHERE locks.until <= :now OR locks.owner = excluded.owner`,
      args: { name, owner, until: now + ttlMs, now },
    });
    return rs.rowsAffected === 1;
  }

  async releaseLock(name: string, owner: string): Promise<boolean> {
    const rs = await this.#execute({
      sql: "DELETE FROM locks WHERE name = :name AND owner = :owner",
      args: { name, owner },
    });
    return rs.rowsAffected === 1;
  }

  async backlog(): Promise<Backlog> {
    const waiting = EVENT_STATUSES.filter((s) => s !== "done");
    const [counted, oldest] = await Promise.all([
      this.#execute({
        sql: `SELECT status, COUNT(*) FROM events WHERE status IN (${
          waiting.map((s) => `'${s}'`).join(", ")
        }) GROUP BY status`,
        args: [],
      }),
      this.#execute({
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
    return { counts, oldestWaitingAt: _num(oldest.rows[0]?.[0]) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const queued = this.#queue.splice(0);
    for (const w of queued) w.reject(new Error("the inbox was closed before the event was stored"));
    this.#whenClosed = this.#engine.close();
  }

  health(): { available: true } | { available: false; reason: string; since: number } {
    return this.#unavailable === undefined
      ? { available: true }
      : { available: false, ...this.#unavailable };
  }

  whenClosed(): Promise<void> {
    return this.#whenClosed ?? Promise.reject(new Error("the inbox is not closed"));
  }
}

function _num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function _str(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Rows selected or returned as {@linkcode _COLUMNS}, as stored events. */
function _toStoredAll(rs: SqlResult): StoredEvent[] {
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
    next_attempt_at: _num(row[9]),
    lease_owner: _str(row[10]),
    lease_until: _num(row[11]),
    last_error: _str(row[12]),
    updated_at: Number(row[13]),
    completed_at: _num(row[14]),
  }));
}
