/**
 * An in-memory {@linkcode Inbox} following the contract in src/inbox/types.ts, for dispatcher
 * tests until the libSQL inbox lands.
 *
 * @module
 */
import type { IncomingEvent } from "../../src/event.ts";
import type {
  AcceptResult,
  EventKey,
  EventStatus,
  Inbox,
  ListFilter,
  StoredEvent,
} from "../../src/inbox/types.ts";
import { EVENT_STATUSES } from "../../src/inbox/types.ts";

/** Creates an empty in-memory inbox. `rows` is exposed for assertions. */
export function memoryInbox(): Inbox & { rows: Map<string, StoredEvent> } {
  const rows = new Map<string, StoredEvent>();
  const k = (key: EventKey) => `${key.provider}\u0000${key.id}`;
  const leased = (key: EventKey, owner: string) => {
    const row = rows.get(k(key));
    return row && row.status === "running" && row.lease_owner === owner ? row : undefined;
  };
  const lease = (row: StoredEvent, owner: string, leaseMs: number, now: number) => {
    row.status = "running";
    row.lease_owner = owner;
    row.lease_until = now + leaseMs;
    row.attempts += 1;
    row.updated_at = now;
    return { ...row };
  };
  const settle = (row: StoredEvent, status: EventStatus, now: number, patch = {}) => {
    Object.assign(row, {
      status,
      lease_owner: null,
      lease_until: null,
      updated_at: now,
      ...patch,
    });
    return true;
  };
  return {
    rows,
    accept(event: IncomingEvent, options = {}): Promise<AcceptResult> {
      const existing = rows.get(k(event));
      if (existing) return Promise.resolve({ duplicate: true, status: existing.status });
      const status = options.status ?? "pending";
      rows.set(k(event), {
        id: event.id,
        provider: event.provider,
        webhook: event.webhook,
        type: event.type,
        payload: event.payload,
        received_at: event.receivedAt,
        source: event.source,
        status,
        attempts: 0,
        next_attempt_at: null,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        updated_at: event.receivedAt,
        completed_at: null,
      });
      return Promise.resolve({ duplicate: false, status });
    },
    claim({ owner, limit, leaseMs, now }) {
      const runnable = [...rows.values()].filter((r) =>
        (r.status === "pending" && (r.next_attempt_at ?? 0) <= now) ||
        (r.status === "failed" && (r.next_attempt_at ?? 0) <= now) ||
        (r.status === "running" && (r.lease_until ?? 0) <= now)
      ).sort((a, b) => (a.next_attempt_at ?? a.received_at) - (b.next_attempt_at ?? b.received_at));
      return Promise.resolve(runnable.slice(0, limit).map((r) => lease(r, owner, leaseMs, now)));
    },
    claimOne(key, { owner, leaseMs, now }) {
      const row = rows.get(k(key));
      if (!row || row.status === "done" || row.status === "dead") return Promise.resolve(null);
      if (row.status === "running" && (row.lease_until ?? 0) > now) return Promise.resolve(null);
      return Promise.resolve(lease(row, owner, leaseMs, now));
    },
    complete(key, owner, now) {
      const row = leased(key, owner);
      return Promise.resolve(
        !!row && settle(row, "done", now, { completed_at: now, last_error: null }),
      );
    },
    fail(key, owner, error, retryAt, now) {
      const row = leased(key, owner);
      return Promise.resolve(
        !!row && settle(row, "failed", now, { last_error: error, next_attempt_at: retryAt }),
      );
    },
    bury(key, owner, error, now) {
      const row = leased(key, owner);
      return Promise.resolve(!!row && settle(row, "dead", now, { last_error: error }));
    },
    markUnhandled(key, owner, now) {
      const row = leased(key, owner);
      return Promise.resolve(!!row && settle(row, "unhandled", now));
    },
    release(key, owner, now, notBefore) {
      const row = leased(key, owner);
      if (!row) return Promise.resolve(false);
      return Promise.resolve(
        settle(row, "pending", now, {
          attempts: Math.max(0, row.attempts - 1),
          next_attempt_at: notBefore ?? null,
        }),
      );
    },
    list(filter: ListFilter = {}) {
      return Promise.resolve(
        [...rows.values()].filter((r) =>
          (!filter.status || r.status === filter.status) &&
          (!filter.provider || r.provider === filter.provider) &&
          (!filter.type || r.type === filter.type)
        ).sort((a, b) => b.received_at - a.received_at).slice(0, filter.limit ?? 50)
          .map((r) => ({ ...r })),
      );
    },
    find(id, provider) {
      return Promise.resolve(
        [...rows.values()].filter((r) => r.id === id && (!provider || r.provider === provider))
          .map((r) => ({ ...r })),
      );
    },
    requeue(target, now) {
      const keys: EventKey[] = [];
      const requeueable = ["failed", "dead", "unhandled", "ignored"];
      for (const row of rows.values()) {
        const match = "id" in target
          ? row.id === target.id && row.provider === target.provider
          : row.status === target.status && (!target.provider || row.provider === target.provider);
        if (match && requeueable.includes(row.status)) {
          settle(row, "pending", now, { next_attempt_at: null });
          keys.push({ provider: row.provider, id: row.id });
        }
      }
      return Promise.resolve(keys);
    },
    replay(key, now) {
      const row = rows.get(k(key));
      if (!row || row.status !== "done") return Promise.resolve(false);
      return Promise.resolve(
        settle(row, "pending", now, { source: "replay", next_attempt_at: null }),
      );
    },
    purge(before) {
      let n = 0;
      for (const [key, row] of rows) {
        if ((row.status === "done" || row.status === "ignored") && row.received_at < before) {
          rows.delete(key);
          n++;
        }
      }
      return Promise.resolve(n);
    },
    counts() {
      const counts = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as Record<
        EventStatus,
        number
      >;
      for (const row of rows.values()) counts[row.status]++;
      return Promise.resolve(counts);
    },
    close() {},
  };
}
