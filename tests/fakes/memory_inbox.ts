/**
 * A small in-memory {@linkcode Inbox} for tests of code that only needs accept, find, list,
 * requeue and counts (plus enough of claim/fail/bury to put rows into failed or dead).
 *
 * @module
 */
import type { IncomingEvent } from "../../src/event.ts";
import {
  type AcceptResult,
  EVENT_STATUSES,
  type EventKey,
  type EventStatus,
  type Inbox,
  type ListFilter,
  type StoredEvent,
} from "../../src/inbox/types.ts";

/** An in-memory inbox; `rows` is exposed for assertions and `acceptCalls` counts writes. */
export function memoryInbox(): Inbox & { rows: Map<string, StoredEvent>; acceptCalls: number } {
  const rows = new Map<string, StoredEvent>();
  const key = (k: EventKey) => `${k.provider}\u0000${k.id}`;
  const leased = (k: EventKey, owner: string) => {
    const row = rows.get(key(k));
    return row && row.status === "running" && row.lease_owner === owner ? row : undefined;
  };
  const finish = (row: StoredEvent, status: EventStatus, now: number, error: string | null) => {
    Object.assign(row, {
      status,
      lease_owner: null,
      lease_until: null,
      last_error: error,
      updated_at: now,
    });
  };
  const inbox = {
    rows,
    acceptCalls: 0,
    accept(event: IncomingEvent, options?: { status?: "pending" | "ignored" }) {
      inbox.acceptCalls++;
      const existing = rows.get(key(event));
      if (existing) {
        return Promise.resolve<AcceptResult>({ duplicate: true, status: existing.status });
      }
      const status = options?.status ?? "pending";
      rows.set(key(event), {
        ...event,
        received_at: event.receivedAt,
        status,
        attempts: 0,
        next_attempt_at: status === "pending" ? event.receivedAt : null,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        updated_at: event.receivedAt,
        completed_at: null,
      } as StoredEvent);
      const row = rows.get(key(event))! as StoredEvent & { receivedAt?: number };
      delete row.receivedAt;
      return Promise.resolve<AcceptResult>({ duplicate: false, status });
    },
    claim(o: { owner: string; limit: number; leaseMs: number; now: number }) {
      const out: StoredEvent[] = [];
      for (const row of rows.values()) {
        if (out.length >= o.limit) break;
        const runnable = row.status === "pending" ||
          (row.status === "failed" && (row.next_attempt_at ?? 0) <= o.now) ||
          (row.status === "running" && (row.lease_until ?? 0) <= o.now);
        if (!runnable) continue;
        Object.assign(row, {
          status: "running",
          lease_owner: o.owner,
          lease_until: o.now + o.leaseMs,
          attempts: row.attempts + 1,
          updated_at: o.now,
        });
        out.push({ ...row });
      }
      return Promise.resolve(out);
    },
    claimOne(k: EventKey, o: { owner: string; leaseMs: number; now: number }) {
      const row = rows.get(key(k));
      if (!row || row.status === "done" || row.status === "dead") return Promise.resolve(null);
      Object.assign(row, {
        status: "running",
        lease_owner: o.owner,
        lease_until: o.now + o.leaseMs,
        attempts: row.attempts + 1,
      });
      return Promise.resolve({ ...row });
    },
    complete(k: EventKey, owner: string, now: number) {
      const row = leased(k, owner);
      if (row) finish(row, "done", now, null), row.completed_at = now;
      return Promise.resolve(!!row);
    },
    fail(k: EventKey, owner: string, error: string, retryAt: number, now: number) {
      const row = leased(k, owner);
      if (row) finish(row, "failed", now, error), row.next_attempt_at = retryAt;
      return Promise.resolve(!!row);
    },
    bury(k: EventKey, owner: string, error: string, now: number) {
      const row = leased(k, owner);
      if (row) finish(row, "dead", now, error);
      return Promise.resolve(!!row);
    },
    markUnhandled(k: EventKey, owner: string, now: number) {
      const row = leased(k, owner);
      if (row) finish(row, "unhandled", now, null);
      return Promise.resolve(!!row);
    },
    release(k: EventKey, owner: string, now: number) {
      const row = leased(k, owner);
      if (row) finish(row, "pending", now, row.last_error), row.attempts--;
      return Promise.resolve(!!row);
    },
    list(filter: ListFilter = {}) {
      const out = [...rows.values()]
        .filter((r) =>
          (!filter.status || r.status === filter.status) &&
          (!filter.provider || r.provider === filter.provider) &&
          (!filter.type || r.type === filter.type)
        )
        .sort((a, b) => b.received_at - a.received_at)
        .slice(0, filter.limit ?? 50);
      return Promise.resolve(out.map((r) => ({ ...r })));
    },
    find(id: string, provider?: string) {
      return Promise.resolve(
        [...rows.values()].filter((r) => r.id === id && (!provider || r.provider === provider))
          .map((r) => ({ ...r })),
      );
    },
    requeue(target: EventKey | { status: EventStatus; provider?: string }, now: number) {
      const requeueable: EventStatus[] = ["failed", "dead", "unhandled", "ignored"];
      const targets = "id" in target
        ? [rows.get(key(target))].filter((r): r is StoredEvent => !!r)
        : [...rows.values()].filter((r) =>
          r.status === target.status && (!target.provider || r.provider === target.provider)
        );
      const done: EventKey[] = [];
      for (const row of targets) {
        if (!requeueable.includes(row.status)) continue;
        Object.assign(row, { status: "pending", next_attempt_at: now, updated_at: now });
        done.push({ provider: row.provider, id: row.id });
      }
      return Promise.resolve(done);
    },
    replay() {
      return Promise.resolve(false);
    },
    purge() {
      return Promise.resolve(0);
    },
    counts() {
      const c = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as Record<
        EventStatus,
        number
      >;
      for (const row of rows.values()) c[row.status]++;
      return Promise.resolve(c);
    },
    close() {},
  };
  return inbox;
}
