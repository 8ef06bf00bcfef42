/**
 * Ingest: the one way a verified event enters the inbox. The server (a delivery) and backfill
 * (an event listed from the provider's API) both call it, so both take exactly the same path:
 * the webhook's `events` filter (pending or ignored), dedupe and a durable row through
 * `inbox.accept`, the `whd_events_total` / `whd_store_errors_total` counters, and the wake-up of
 * the dispatcher. Replay does not come through here: it sets a stored row back to pending.
 *
 * It sits between `providers` (which produce the verified id, type and payload) and `inbox`
 * (which stores them); it imports neither `http` nor `cli`.
 *
 * @example
 * ```ts ignore
 * import { createIngest } from "./ingest.ts";
 * const ingest = createIngest({ inbox, metrics, onAccepted }, webhook);
 * const result = await ingest({ id, type, payload, receivedAt: Date.now(), source: "delivery" });
 * if (result.duplicate) console.log("already stored as", result.status);
 * ```
 * @module
 */
import { matchesEvents } from "./config/event_filter.ts";
import type { WebhookConfig } from "./config/schema.ts";
import type { EventSource } from "./event.ts";
import type { EventKey, EventStatus, Inbox } from "./inbox/types.ts";
import type { Metrics } from "./ops/metrics.ts";

/** The verified parts of one event, as a provider (or its API) produced them. */
export interface IngestInput {
  /** Provider's event id. */
  id: string;
  /** Event type. */
  type: string;
  /** The raw JSON body exactly as received (or as the API returned it). */
  payload: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
  /** How the event entered whd. */
  source: EventSource;
}

/** What ingesting one event did. */
export interface IngestResult {
  /** Whether the type is in the webhook's `events` (stored pending) or not (stored ignored). */
  wanted: boolean;
  /** The (provider, id) was already stored; nothing was written. */
  duplicate: boolean;
  /** The row's status: the stored one for a duplicate, else pending or ignored. */
  status: EventStatus;
}

/** Stores one verified event for one webhook; throws when the inbox could not commit it. */
export type Ingest = (event: IngestInput) => Promise<IngestResult>;

/** What {@linkcode createIngest} needs. */
export interface IngestDeps {
  /** Where events are stored; its `accept` is the only dedupe. */
  inbox: Inbox;
  /** Receives `whd_events_total{provider,webhook,result}` and `whd_store_errors_total`. */
  metrics: Metrics;
  /** Called after a new wanted event is committed (wakes the dispatcher). */
  onAccepted?: (key: EventKey) => void;
}

/**
 * Builds the ingest function of one webhook. Its counters are resolved once, here, so the
 * request path builds no label strings.
 */
export function createIngest(deps: IngestDeps, webhook: WebhookConfig): Ingest {
  const { inbox, metrics, onAccepted } = deps;
  const labels = { provider: webhook.provider, webhook: webhook.name };
  const events = (result: string) => metrics.counter("whd_events_total", { ...labels, result });
  const stored = events("stored");
  const duplicate = events("duplicate");
  const ignored = events("ignored");
  const storeErrors = metrics.counter("whd_store_errors_total", labels);
  return async (event) => {
    const wanted = matchesEvents(event.type, webhook.events);
    let result;
    try {
      result = await inbox.accept({
        id: event.id,
        provider: webhook.provider,
        webhook: webhook.name,
        type: event.type,
        payload: event.payload,
        receivedAt: event.receivedAt,
        source: event.source,
      }, { status: wanted ? "pending" : "ignored" });
    } catch (error) {
      storeErrors.inc();
      throw error;
    }
    if (result.duplicate) {
      duplicate.inc();
    } else {
      (wanted ? stored : ignored).inc();
      if (wanted) onAccepted?.({ provider: webhook.provider, id: event.id });
    }
    return { wanted, duplicate: result.duplicate, status: result.status };
  };
}

/** Registers the help text of the counters {@linkcode createIngest} writes. */
export function describeIngestMetrics(metrics: Metrics): void {
  metrics.describe(
    "whd_events_total",
    "Verified deliveries by result: stored, duplicate, ignored.",
  );
  metrics.describe("whd_store_errors_total", "Deliveries answered 503 because the inbox failed.");
}
