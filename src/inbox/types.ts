/**
 * The inbox contract: durable, deduplicated storage of events and their processing state.
 *
 * @module
 */
import type { EventSource, IncomingEvent } from "../event.ts";
import type { AttemptRecord } from "./attempts.ts";
import type { ConsoleQueries } from "./console_queries.ts";

/**
 * Life of a stored event:
 * pending → running (leased) → done | failed (retried at next_attempt_at) | dead.
 * `ignored`: outside the webhook's `events` filter. `unhandled`: no handler file matches.
 */
export type EventStatus =
  | "pending"
  | "running"
  | "done"
  | "failed"
  | "dead"
  | "ignored"
  | "unhandled";

/** All statuses, in life order. */
export const EVENT_STATUSES: readonly EventStatus[] = [
  "pending",
  "running",
  "done",
  "failed",
  "dead",
  "ignored",
  "unhandled",
];

/** Statuses `requeue` takes back to pending (done events are replayed instead). */
export const REQUEUEABLE_STATUSES: readonly EventStatus[] = [
  "failed",
  "dead",
  "unhandled",
  "ignored",
];

/**
 * What {@linkcode Inbox.requeue} puts back: one event, or the events of a status (of one
 * provider and type; at most `limit` of them; only those last changed by `updatedBy`).
 */
export type RequeueTarget = EventKey | {
  status: EventStatus;
  provider?: string;
  type?: string;
  limit?: number;
  updatedBy?: number;
};

/** Identifies one stored event. */
export interface EventKey {
  provider: string;
  id: string;
}

/** A string that identifies `key`, for maps and sets. */
export function eventKeyString(key: EventKey): string {
  return `${key.provider}\u0000${key.id}`;
}

/** A row of the inbox. Times are milliseconds since the epoch. */
export interface StoredEvent {
  id: string;
  provider: string;
  webhook: string;
  type: string;
  /** Raw JSON text. */
  payload: string;
  received_at: number;
  source: EventSource;
  status: EventStatus;
  /** Handler runs started so far. */
  attempts: number;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  updated_at: number;
  completed_at: number | null;
}

/** Result of {@linkcode Inbox.accept}. */
export interface AcceptResult {
  /** True when a row for (provider, id) already existed; nothing was written. */
  duplicate: boolean;
  /** Status of the (new or existing) row. */
  status: EventStatus;
}

/** What {@linkcode Inbox.backlog} reports. */
export interface Backlog {
  counts: Record<Exclude<EventStatus, "done">, number>;
  /** `received_at` of the oldest pending or failed event, or null. */
  oldestWaitingAt: number | null;
}

/** Filter for {@linkcode Inbox.list}. */
export interface ListFilter {
  status?: EventStatus;
  provider?: string;
  type?: string;
  /** Default 50. */
  limit?: number;
}

/**
 * Durable, deduplicated event store. All writes are committed before their promise resolves.
 * Writes issued together (accepts, claims, outcomes) may share one transaction; each keeps its
 * own result. A call the store does not answer in time fails with {@linkcode StoreUnavailable}.
 */
export interface Inbox {
  /** Stores the event once per (provider, id). Resolves only after the row is durable. */
  accept(event: IncomingEvent, options?: { status?: "pending" | "ignored" }): Promise<AcceptResult>;
  /**
   * Leases up to `limit` runnable events (pending; failed whose next_attempt_at has come;
   * running whose lease expired), marks them running and counts the attempt.
   */
  claim(
    options: { owner: string; limit: number; leaseMs: number; now: number },
  ): Promise<StoredEvent[]>;
  /** Leases one event if it is not done, dead or leased by someone else (sync mode). */
  claimOne(
    key: EventKey,
    options: { owner: string; leaseMs: number; now: number },
  ): Promise<StoredEvent | null>;
  /** Marks a leased event done. False when the lease was lost. */
  complete(key: EventKey, owner: string, now: number): Promise<boolean>;
  /** Marks a leased event failed, to run again at `retryAt`. */
  fail(key: EventKey, owner: string, error: string, retryAt: number, now: number): Promise<boolean>;
  /** Marks a leased event dead (no more retries). */
  bury(key: EventKey, owner: string, error: string, now: number): Promise<boolean>;
  /** Marks a leased event unhandled (no handler file matches its type). */
  markUnhandled(key: EventKey, owner: string, now: number): Promise<boolean>;
  /** Gives a leased event back as pending without counting the attempt (shutdown, load error). */
  release(key: EventKey, owner: string, now: number, notBefore?: number): Promise<boolean>;
  /**
   * Records one handler run of a leased event, only while `owner` holds the lease. Queued with
   * the other writes: issued together with the run's outcome, both commit in one transaction.
   */
  recordAttempt(key: EventKey, owner: string, record: AttemptRecord): Promise<void>;
  /** The recorded runs of an event, oldest first. */
  attempts(key: EventKey): Promise<AttemptRecord[]>;
  /** Lists newest first. */
  list(filter?: ListFilter): Promise<StoredEvent[]>;
  /** Finds by id, optionally narrowed by provider; several rows when ids collide across providers. */
  find(id: string, provider?: string): Promise<StoredEvent[]>;
  /**
   * Re-queues failed/dead/unhandled/ignored events (one, or all of a status, optionally of one
   * provider and type, at most `limit` of them, last changed by `updatedBy`) as pending now;
   * returns the keys re-queued.
   */
  requeue(
    target: RequeueTarget,
    now: number,
  ): Promise<EventKey[]>;
  /** Runs a done event again: pending, same payload, source `replay`. False if not done. */
  replay(key: EventKey, now: number): Promise<boolean>;
  /**
   * Deletes done and ignored rows received before `before`; returns how many. Each keeps its
   * (provider, id) as a tombstone, so accepting it again is a duplicate for the store's dedupe
   * retention (counted from when it was received).
   */
  purge(before: number): Promise<number>;
  /** Number of rows per status. */
  counts(): Promise<Record<EventStatus, number>>;
  /**
   * Takes or renews the lock `name` for `owner` until `now + ttlMs`: true when it is free,
   * expired or already `owner`'s; false while another owner holds it. One statement, so two
   * processes on one database never both get it.
   */
  acquireLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lock up if `owner` holds it; false otherwise. */
  releaseLock(name: string, owner: string): Promise<boolean>;
  /**
   * Rows per status except `done`, and the receive time of the oldest event waiting to run
   * (pending or failed; null when none). Index range scans only: cheap enough for scrapes.
   */
  backlog(): Promise<Backlog>;
  /** The web console's reads (paged lists, one event, groups, throughput; `console_queries.ts`). */
  console(): ConsoleQueries;
  close(): void;
}

/**
 * The store did not answer within its deadline (locked, slow disk, stopped worker). The write
 * may still commit later; callers answer 503 and let the sender retry (dedupe holds).
 *
 * @example
 * ```ts
 * import { StoreUnavailable } from "./types.ts";
 * const e = new StoreUnavailable("no answer within 2000 ms");
 * e instanceof StoreUnavailable; // true
 * ```
 */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`the inbox store is unavailable: ${message}`, options);
    this.name = "StoreUnavailable";
  }
}
