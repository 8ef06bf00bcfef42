/**
 * The write path under the libSQL inbox: calls that arrive while a write is being prepared or
 * is in flight are gathered and written in one transaction (group commit, up to `maxBatch`);
 * every call waits at most `deadlineMs` and then fails with {@linkcode StoreUnavailable}; a
 * failed write marks the store unavailable and starts a probe write that marks it available
 * again once one commits. `libsql_inbox.ts` builds the inbox's operations on it.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { IncomingEvent } from "../event.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../ops/log.ts";
import { Deadlines } from "./deadlines.ts";
import { insertSql, PROBE } from "./inbox_sql.ts";
import type { InboxStats } from "./write_stats.ts";
import type { OrderOf } from "./ordering.ts";
import type { SqlEngine, SqlResult, SqlStatement, SqlValue } from "./sql_engine.ts";
import { type AcceptResult, eventKeyString, type EventStatus, StoreUnavailable } from "./types.ts";

/** What a call waiting for the next grouped write carries. */
interface CallFields {
  /** An accept, or a statement whose result `map` turns into the answer. */
  accept?: { event: IncomingEvent; status: "pending" | "ignored"; order?: OrderPlace };
  stmt?: SqlStatement;
  map?(result: SqlResult): unknown;
  /** The probe write: its DELETE follows its INSERT in the same transaction. */
  probe?: boolean;
}

/**
 * A call waiting for the next grouped write (or for a statement run outside the group): its
 * caller's promise, settled once, and its deadline, dropped when it settles. A class, not an
 * object of closures: one is made per delivery.
 */
class Waiting implements CallFields {
  /** Set once the caller's promise settled (answered, failed or timed out). */
  settled = false;
  accept?: CallFields["accept"];
  stmt?: SqlStatement;
  map?(result: SqlResult): unknown;
  probe?: boolean;
  #resolve: (value: never) => void;
  #reject: (error: unknown) => void;
  #deadlines: Deadlines<Waiting>;

  constructor(
    resolve: (value: never) => void,
    reject: (error: unknown) => void,
    deadlines: Deadlines<Waiting>,
    fields: CallFields,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#deadlines = deadlines;
    this.accept = fields.accept;
    this.stmt = fields.stmt;
    this.map = fields.map;
    this.probe = fields.probe;
  }

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#deadlines.settled();
    this.#resolve(value as never);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#deadlines.settled();
    this.#reject(error);
  }
}

/** The lock wait of a store whose calls have `deadlineMs`: 3/4 of it, at most 5000 ms. */
export function busyTimeoutFor(deadlineMs: number): number {
  return Math.max(50, Math.min(5000, Math.floor(deadlineMs * 0.75)));
}

/** Where an accepted event stands in its order key's queue (see `ordering.ts`). */
type OrderPlace = NonNullable<ReturnType<OrderOf>>;
type Status = "pending" | "ignored";

/** What {@linkcode GroupWriter} needs besides the engine. */
export interface GroupWriterOptions {
  maxBatch: number;
  deadlineMs: number;
  probeIntervalMs: number;
  retentionMs: number;
  now: () => number;
  log?: Logger;
}

/** A group handed to the engine: its callers, split as written, and the pending results. */
interface SentGroup {
  group: Waiting[];
  accepts: Waiting[];
  others: Waiting[];
  results: Promise<SqlResult[]>;
}

/** Group commit, deadlines and store availability over one {@linkcode SqlEngine}. */
export class GroupWriter {
  #engine: SqlEngine;
  #maxBatch: number;
  #deadlineMs: number;
  #retentionMs: number;
  #now: () => number;
  #log?: Logger;
  #queue: Waiting[] = [];
  #insertSqls = new Map<number, string>();
  #deadlines = new Deadlines<Waiting>((w, afterMs) => this.#expire(w, afterMs));
  #writing = false;
  #closed = false;
  #whenClosed: Promise<void> | undefined;
  #unavailable: { reason: string; since: number } | undefined;
  #probeIntervalMs: number;
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  #probing = false;
  #stats: InboxStats = {
    accepts: 0,
    acceptTransactions: 0,
    failedTransactions: 0,
    largestBatch: 0,
    writeTransactions: 0,
    timeouts: 0,
  };

  constructor(engine: SqlEngine, options: GroupWriterOptions) {
    this.#engine = engine;
    this.#maxBatch = options.maxBatch;
    this.#deadlineMs = options.deadlineMs;
    this.#probeIntervalMs = options.probeIntervalMs;
    this.#retentionMs = Math.max(0, Math.floor(options.retentionMs));
    this.#now = options.now;
    this.#log = options.log;
  }

  /**
   * Records that the store failed. A store error's own message (`SQLITE_BUSY: …`) replaces a
   * bare timeout's, as it says why; `since` stays the first failure. Starts the probe.
   */
  #markUnavailable(reason: string, fromStore: boolean): void {
    if (this.#unavailable === undefined) {
      this.#unavailable = { reason, since: this.#now() };
      this.#log?.warn("the inbox store is unavailable; deliveries get 503 until it recovers", {
        reason,
      });
    } else if (fromStore) {
      this.#unavailable.reason = reason;
    }
    if (this.#probeTimer === undefined && this.#probeIntervalMs > 0 && !this.#closed) {
      this.#probeTimer = setInterval(() => this.#probe(), this.#probeIntervalMs);
      // The probe never keeps the process alive on its own.
      Deno.unrefTimer(this.#probeTimer as unknown as number);
    }
  }

  #markAvailable(): void {
    if (this.#unavailable === undefined) return;
    this.#log?.info("the inbox store is available again", {
      unavailable_ms: this.#now() - this.#unavailable.since,
    });
    this.#unavailable = undefined;
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** One probe write (never two at once); its commit marks the store available. */
  #probe(): void {
    if (this.#probing || this.#closed) return;
    this.#probing = true;
    this.#enqueue({ stmt: PROBE[0], map: () => undefined, probe: true })
      .catch(() => {})
      .finally(() => this.#probing = false);
  }

  /** A snapshot of the write-path counters. */
  stats(): InboxStats {
    return { ...this.#stats };
  }

  /** Starts the deadline of a call: past it the call fails with StoreUnavailable. */
  #waiting(
    resolve: (value: never) => void,
    reject: (error: unknown) => void,
    fields: CallFields,
  ): Waiting {
    const w = new Waiting(resolve, reject, this.#deadlines, fields);
    // While the store is known to be unavailable, calls wait 3/4 of the deadline: the answer
    // (503) comes sooner, and a call queued behind another's lock wait still gets one in time.
    this.#deadlines.add(
      w,
      this.#unavailable === undefined ? this.#deadlineMs : busyTimeoutFor(this.#deadlineMs),
    );
    return w;
  }

  /** Fails a call that got no answer within `deadlineMs`. */
  #expire(w: Waiting, deadlineMs: number): void {
    this.#stats.timeouts++;
    const error = new StoreUnavailable(`no answer within ${deadlineMs} ms`);
    this.#markUnavailable(error.message, false);
    w.reject(error);
  }

  /** Runs `op` on the engine, failing with StoreUnavailable past the deadline. */
  #bounded<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the inbox is closed"));
    return new Promise<T>((resolve, reject) => {
      const w = this.#waiting(resolve, reject, {});
      op().then((value) => w.resolve(value), (error) => w.reject(error));
    });
  }

  #execute(stmt: SqlStatement): Promise<SqlResult> {
    return this.#bounded(() => this.#engine.execute(stmt));
  }

  /** Queues a call for the next grouped write transaction. */
  #enqueue<T>(fields: CallFields): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the inbox is closed"));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(this.#waiting(resolve, reject, fields));
      if (!this.#writing) {
        this.#writing = true;
        this.#drain();
      }
    });
  }

  /** Writes the queue in groups until it is empty. Never rejects. */
  async #drain(): Promise<void> {
    try {
      // Yield one macrotask (setImmediate costs ~10 µs; setTimeout(0) ~2 ms in Deno) so that
      // requests the event loop already has ready join this group, not only calls issued in
      // the same turn. Measured with 64 HTTP connections on one file: a microtask yield gave one
      // transaction per request; this gives ~20 accepts per transaction and 4× the requests/s.
      await new Promise((r) => setImmediate(r));
      let sent = this.#sendNext();
      while (sent !== undefined) {
        const outcome = await sent.results.then(
          (results) => ({ results }),
          (error: unknown) => ({ error }),
        );
        // The next group goes to the engine before this one's callers are answered: answering
        // them (writing their HTTP responses) takes the main thread a while, and the store
        // would otherwise sit idle meanwhile. Calls queued during the write form that group.
        const next = this.#sendNext();
        try {
          await this.#settle(sent, outcome);
        } catch (error) {
          // A bug or a malformed event: settle every caller rather than leave them hanging.
          for (const w of sent.group) w.reject(error);
        }
        sent = next ?? this.#sendNext();
      }
    } finally {
      this.#writing = false;
    }
  }

  /** Takes the next group off the queue and hands it to the engine; undefined when none. */
  #sendNext(): SentGroup | undefined {
    while (this.#queue.length > 0) {
      // Calls that timed out while queued are not written: their callers were told so.
      const group = this.#queue.splice(0, this.#maxBatch).filter((w) => !w.settled);
      if (group.length === 0) continue;
      try {
        return this.#send(group);
      } catch (error) {
        for (const w of group) w.reject(error);
      }
    }
    return undefined;
  }

  /** Builds one transaction for `group` (its accepts in one INSERT) and hands it to the engine. */
  #send(group: Waiting[]): SentGroup {
    const accepts: Waiting[] = [];
    const others: Waiting[] = [];
    // The accepts' rows, in the column order of `insertSql`, gathered in the same pass.
    const args: SqlValue[] = [];
    for (const w of group) {
      const accept = w.accept;
      if (accept === undefined) {
        others.push(w);
        continue;
      }
      accepts.push(w);
      const e = accept.event;
      args.push(
        e.provider,
        e.id,
        e.webhook,
        e.type,
        e.payload,
        e.receivedAt,
        e.source,
        accept.status,
        accept.order?.key ?? null,
        accept.order?.at ?? null,
        e.headers ?? null,
      );
    }
    const stmts: SqlStatement[] = [];
    if (accepts.length > 0) {
      this.#stats.acceptTransactions++;
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, accepts.length);
      stmts.push({ sql: this.#insertSql(accepts.length), args });
    }
    for (const w of others) stmts.push(w.stmt!);
    if (others.some((w) => w.probe)) stmts.push(PROBE[1]);
    this.#stats.writeTransactions++;
    return { group, accepts, others, results: this.#engine.batch(stmts) };
  }

  /** The INSERT of `rows` accepts, built once per group size. */
  #insertSql(rows: number): string {
    let sql = this.#insertSqls.get(rows);
    if (sql === undefined) {
      sql = insertSql(rows, this.#retentionMs);
      this.#insertSqls.set(rows, sql);
    }
    return sql;
  }

  /** Answers the callers of a group once its transaction committed or failed. */
  async #settle(
    sent: SentGroup,
    outcome: { results: SqlResult[] } | { error: unknown },
  ): Promise<void> {
    const { group, accepts, others } = sent;
    if ("error" in outcome) {
      const { error } = outcome;
      if (accepts.length > 0) this.#stats.failedTransactions++;
      this.#log?.warn("inbox write failed", { calls: group.length, error });
      this.#markUnavailable(errorMessage(error), true);
      const failure = error instanceof StoreUnavailable ? error : new Error(
        `inbox write failed: ${errorMessage(error)}`,
        { cause: error },
      );
      for (const w of group) w.reject(failure);
      return;
    }
    const { results } = outcome;
    this.#log?.debug("inbox group committed", { calls: group.length });
    // Only a commit that wrote proves the store writable: a claim that matched nothing
    // commits without touching the file, even when the file cannot be written.
    if (group.some((w) => w.probe) || results.some((r) => r.rowsAffected > 0)) {
      this.#markAvailable();
    }
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

  async #settleAccepts(accepts: Waiting[], inserted: SqlResult): Promise<void> {
    // As many rows written as accepts (the usual case): each wrote its own, no key to compare.
    if (inserted.rows.length === accepts.length) {
      for (const w of accepts) w.resolve({ duplicate: false, status: w.accept!.status });
      return;
    }
    const insertedKeys = new Set(
      inserted.rows.map((r) => eventKeyString({ provider: String(r[0]), id: String(r[1]) })),
    );
    // Status of each row written by this group; duplicates of those share it (first one wins).
    const written = new Map<string, EventStatus>();
    const lookups: Waiting[] = [];
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
  async #resolveDuplicates(waiting: Waiting[]): Promise<void> {
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

  /** Queues an accept (with its order place) for the next grouped write, until committed. */
  accept(event: IncomingEvent, status: Status, order?: OrderPlace): Promise<AcceptResult> {
    this.#stats.accepts++;
    return this.#enqueue({ accept: { event, status, order } });
  }

  /** Queues `call.stmt` for the next grouped write; resolves to `call.map` of its result. */
  write<T>(call: { stmt: SqlStatement; map: (result: SqlResult) => T }): Promise<T> {
    return this.#enqueue(call);
  }

  /** Runs one statement outside the group, within the deadline. */
  execute(stmt: SqlStatement): Promise<SqlResult> {
    return this.#execute(stmt);
  }

  /** Runs statements in one transaction outside the group, within the deadline. */
  batch(stmts: SqlStatement[]): Promise<SqlResult[]> {
    return this.#bounded(() => this.#engine.batch(stmts));
  }

  /** Stops taking calls, fails the queued ones and closes the engine. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    const queued = this.#queue.splice(0);
    for (const w of queued) w.reject(new Error("the inbox was closed before the event was stored"));
    this.#whenClosed = this.#engine.close();
  }

  /** Whether the store is answering: unavailable from a failed write or a timeout until a commit. */
  health(): { available: true } | { available: false; reason: string; since: number } {
    return this.#unavailable === undefined
      ? { available: true }
      : { available: false, ...this.#unavailable };
  }

  /** Resolves once the engine closed by `close()` is released. */
  whenClosed(): Promise<void> {
    return this.#whenClosed ?? Promise.reject(new Error("the inbox is not closed"));
  }
}
