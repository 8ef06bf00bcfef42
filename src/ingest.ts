/**
 * Ingest: the one way a verified event enters the inbox. The server (a delivery) and backfill
 * (an event listed from the provider's API) both call it, so both take exactly the same path:
 * the webhook's `events` filter (pending or ignored), dedupe and a durable row through
 * `inbox.accept`, the `whd_events_total` / `whd_store_errors_total` counters, the API-version
 * check (an event rendered with another version than the provider's `api_version` is counted in
 * `whd_api_version_mismatch_total` and logged once per version), and the wake-up of the
 * dispatcher. Replay does not come through here: it sets a stored row back to pending.
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
import type { Logger } from "./ops/log.ts";
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
  /** The API version the payload was rendered with, when the provider says (Stripe). */
  version?: string;
  /** The delivery's kept request headers as JSON text (`http/kept_headers.ts`). */
  headers?: string | null;
}

/** Distinct API versions one webhook's mismatch counter labels; later ones count as "other". */
export const MAX_VERSION_LABELS = 16;

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
  /** Where an API-version mismatch is reported (once per version); default: not logged. */
  log?: Logger;
}

/** What {@linkcode createIngest} checks about one webhook's events beyond its config. */
export interface IngestOptions {
  /** The provider's pinned API version (`api_version`); events of another are reported. */
  apiVersion?: string;
}

/**
 * Builds the ingest function of one webhook. Its counters are resolved once, here, so the
 * request path builds no label strings.
 */
export function createIngest(
  deps: IngestDeps,
  webhook: WebhookConfig,
  options: IngestOptions = {},
): Ingest {
  const { inbox, metrics, onAccepted, log } = deps;
  const { apiVersion } = options;
  const labels = { provider: webhook.provider, webhook: webhook.name };
  const events = (result: string) => metrics.counter("whd_events_total", { ...labels, result });
  const stored = events("stored");
  const duplicate = events("duplicate");
  const ignored = events("ignored");
  const storeErrors = metrics.counter("whd_store_errors_total", labels);
  const versionsSeen = new Set<string>();
  const versionMismatch = (version: string) => {
    // The label is bounded: past MAX_VERSION_LABELS distinct versions, the rest count as "other".
    const known = versionsSeen.has(version) || versionsSeen.size < MAX_VERSION_LABELS;
    metrics.inc("whd_api_version_mismatch_total", {
      ...labels,
      version: known ? version : "other",
    });
    if (versionsSeen.has(version) || !known) return;
    versionsSeen.add(version);
    log?.warn("event rendered with another API version than the config pins", {
      ...labels,
      version,
      configured: apiVersion,
      fix: "upgrade the endpoint's API version in the Stripe dashboard (or `whd endpoints " +
        "sync`), or set api_version to the version the endpoint uses",
    });
  };
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
        headers: event.headers,
      }, { status: wanted ? "pending" : "ignored" });
    } catch (error) {
      storeErrors.inc();
      throw error;
    }
    if (result.duplicate) {
      duplicate.inc();
    } else {
      (wanted ? stored : ignored).inc();
      if (apiVersion && event.version && event.version !== apiVersion) {
        versionMismatch(event.version);
      }
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
  metrics.describe(
    "whd_api_version_mismatch_total",
    "Stored events rendered with another API version than the provider's api_version.",
  );
}
