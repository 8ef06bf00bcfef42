/**
 * Ordering by object: events that share an order key (a webhook's `order_key`, e.g. the
 * Stripe object id) run one at a time, oldest first. The key and the event's order time
 * (the provider's own creation time where it has one, else when whd received it) are stored
 * with the event when it is accepted; a claim skips an event while another event of its key
 * is ahead of it and still pending, running or failed (waiting for a retry), or while another
 * event of its key is running. Dead, done, ignored and unhandled events do not block: once an
 * event of a key has used up its attempts, the next one runs.
 *
 * The check is a lookup in the `events_order` partial index per candidate row, inside the
 * claim's index range scans, so claims stay index-served; an event that is skipped is still
 * read by every claim until its turn comes.
 *
 * @example
 * ```ts
 * import { ORDER_HEAD_SQL } from "./ordering.ts";
 * ORDER_HEAD_SQL.includes("events_order"); // true
 * ```
 * @module
 */
import type { IncomingEvent } from "../event.ts";

/** Where an event stands in its key's order. */
export interface OrderPlace {
  /** Events with equal keys (per provider) run one at a time. */
  key: string;
  /** Order time in ms since the epoch; ties go to the event received first. */
  at: number;
}

/** Finds an event's order key and time; undefined when it is not ordered. */
export type OrderOf = (event: IncomingEvent) => OrderPlace | undefined;

/** The schema step that adds the order columns and their index. */
export const ORDERING_MIGRATION_SQL: readonly string[] = [
  "ALTER TABLE events ADD COLUMN order_key TEXT",
  "ALTER TABLE events ADD COLUMN order_at INTEGER",
  `CREATE INDEX events_order ON events (provider, order_key, order_at)
    WHERE order_key IS NOT NULL AND status IN ('pending', 'running', 'failed')`,
];

/**
 * The claim condition (for a row of `events` in the claim's scans; uses `:now`): true when the
 * row has no order key, or is the head of its key and no other event of its key is running.
 */
export const ORDER_HEAD_SQL = `(order_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM events o INDEXED BY events_order
      WHERE o.provider = events.provider AND o.order_key = events.order_key
        AND o.order_key IS NOT NULL AND o.status IN ('pending', 'running', 'failed')
        AND o.rowid != events.rowid
        AND (o.order_at < events.order_at
          OR (o.order_at = events.order_at AND o.rowid < events.rowid)
          OR (o.status = 'running' AND o.lease_until >= :now))))`;
