/**
 * The inbox on libSQL: a local SQLite file (`file:`) or a libSQL server (`libsql:`, `http(s):`).
 * This file holds the inbox's operations; the write path (group commit, deadlines, store
 * availability) is `group_writer.ts`, the SQL text `inbox_sql.ts`, the reads and locks
 * `inbox_queries.ts`.
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
import type { IncomingEvent } from "../event.ts";
import type { Logger } from "../ops/log.ts";
import { busyTimeoutFor, GroupWriter } from "./group_writer.ts";
import type { InboxStats } from "./write_stats.ts";
import {
  acquireLock,
  countEvents,
  findEvents,
  listEvents,
  readBacklog,
  releaseLock,
  replayEvent,
  requeueEvents,
} from "./inbox_queries.ts";
import { type ConsoleQueries, consoleQueries } from "./console_queries.ts";
import { CLAIM_ONE_SQL, CLAIM_SQL, LEASED_WHERE, toStoredAll } from "./inbox_sql.ts";
import {
  type EngineOptions,
  filePathOf,
  openClientEngine,
  type SqlResult,
  type SqlStatement,
  type SqlValue,
} from "./sql_engine.ts";
import type { OrderOf } from "./ordering.ts";
import { attemptInsert, type AttemptRecord, attemptSelect, toAttempts } from "./attempts.ts";
import { openWorkerEngine, type SpawnStoreWorker } from "./worker_engine.ts";
import type {
  AcceptResult,
  Backlog,
  EventKey,
  EventStatus,
  Inbox,
  ListFilter,
  RequeueTarget,
  StoredEvent,
} from "./types.ts";

export type { InboxStats } from "./write_stats.ts";
export { CLAIM_SQL } from "./inbox_sql.ts";

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
  /** Order key and time of an accepted event (webhooks with `order_key`); default none. */
  orderOf?: OrderOf;
  /**
   * Run a `file:` database in a worker (default true). False runs the driver on the calling
   * thread, as libSQL server URLs always do.
   */
  worker?: boolean;
  /**
   * While unavailable, a probe write runs this often so the inbox notices the store recovered
   * without waiting for traffic. Default 1000; 0 turns probing off.
   */
  probeIntervalMs?: number;
  /** Starts the store worker (tests pass one they can crash). Default: `store_worker.ts`. */
  spawnWorker?: SpawnStoreWorker;
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
  const deadlineMs = options.deadlineMs ?? 2000;
  const engineOptions: EngineOptions = {
    url: options.url,
    authToken: options.authToken,
    // Below the deadline: a write waiting on another process's lock fails with SQLITE_BUSY
    // ("locked") before its caller's deadline, instead of a bare timeout, and the worker's
    // queue does not back up behind waits nobody is still answering.
    busyTimeoutMs: options.busyTimeoutMs ?? busyTimeoutFor(deadlineMs),
    native: options.native,
  };
  const local = filePathOf(options.url) !== undefined;
  const engine = local && options.worker !== false
    ? await openWorkerEngine(engineOptions, options.spawnWorker)
    : await openClientEngine(engineOptions);
  const writerOptions = {
    maxBatch,
    deadlineMs,
    probeIntervalMs: options.probeIntervalMs ?? 1000,
    retentionMs: options.dedupeRetentionMs ?? DEFAULT_DEDUPE_RETENTION_MS,
    now: options.now ?? Date.now,
    log: options.log,
  };
  return new _LibsqlInbox(new GroupWriter(engine, writerOptions), {
    ...writerOptions,
    orderOf: options.orderOf,
  });
}

class _LibsqlInbox implements LibsqlInbox {
  #writer: GroupWriter;
  #now: () => number;
  #retentionMs: number;
  #orderOf?: OrderOf;

  constructor(
    writer: GroupWriter,
    options: { now: () => number; retentionMs: number; orderOf?: OrderOf },
  ) {
    this.#writer = writer;
    this.#orderOf = options.orderOf;
    this.#now = options.now;
    this.#retentionMs = Math.max(0, Math.floor(options.retentionMs));
  }

  stats(): InboxStats {
    return this.#writer.stats();
  }

  accept(
    event: IncomingEvent,
    options?: { status?: "pending" | "ignored" },
  ): Promise<AcceptResult> {
    return this.#writer.accept(event, options?.status ?? "pending", this.#orderOf?.(event));
  }

  #execute = (stmt: SqlStatement): Promise<SqlResult> => this.#writer.execute(stmt);

  claim(
    options: { owner: string; limit: number; leaseMs: number; now: number },
  ): Promise<StoredEvent[]> {
    if (options.limit <= 0) return Promise.resolve([]);
    return this.#writer.write({
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
        toStoredAll(rs).sort((a, b) =>
          a.received_at - b.received_at || a.provider.localeCompare(b.provider) ||
          a.id.localeCompare(b.id)
        ),
    });
  }

  claimOne(
    key: EventKey,
    options: { owner: string; leaseMs: number; now: number },
  ): Promise<StoredEvent | null> {
    return this.#writer.write({
      stmt: {
        sql: CLAIM_ONE_SQL,
        args: {
          provider: key.provider,
          id: key.id,
          owner: options.owner,
          until: options.now + options.leaseMs,
          now: options.now,
        },
      },
      map: (rs) => toStoredAll(rs)[0] ?? null,
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
    return this.#writer.write({
      stmt: {
        sql: `UPDATE events SET ${set}, lease_owner = NULL, lease_until = NULL, updated_at = :now
          WHERE ${LEASED_WHERE}`,
        args: { ...args, provider: key.provider, id: key.id, owner },
      },
      map: (rs) => rs.rowsAffected === 1,
    });
  }

  recordAttempt(key: EventKey, owner: string, record: AttemptRecord): Promise<void> {
    return this.#writer.write({ stmt: attemptInsert(key, owner, record), map: () => undefined });
  }

  async attempts(key: EventKey): Promise<AttemptRecord[]> {
    return toAttempts(await this.#execute(attemptSelect(key)));
  }

  list(filter: ListFilter = {}): Promise<StoredEvent[]> {
    return listEvents(this.#execute, filter);
  }

  find(id: string, provider?: string): Promise<StoredEvent[]> {
    return findEvents(this.#execute, id, provider);
  }

  requeue(
    target: RequeueTarget,
    now: number,
  ): Promise<EventKey[]> {
    return requeueEvents(this.#execute, target, now);
  }

  replay(key: EventKey, now: number): Promise<boolean> {
    return replayEvent(this.#execute, key, now);
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
    const results = await this.#writer.batch([
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
    ]);
    return results[1].rowsAffected;
  }

  counts(): Promise<Record<EventStatus, number>> {
    return countEvents(this.#execute);
  }

  acquireLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return acquireLock(this.#execute, name, owner, ttlMs, now);
  }

  releaseLock(name: string, owner: string): Promise<boolean> {
    return releaseLock(this.#execute, name, owner);
  }

  backlog(): Promise<Backlog> {
    return readBacklog(this.#execute);
  }

  #console: ConsoleQueries | undefined;

  console(): ConsoleQueries {
    return this.#console ??= consoleQueries(this.#execute);
  }

  close(): void {
    this.#writer.close();
  }

  health(): { available: true } | { available: false; reason: string; since: number } {
    return this.#writer.health();
  }

  whenClosed(): Promise<void> {
    return this.#writer.whenClosed();
  }
}
