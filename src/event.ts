/**
 * The normalized event: what every way in (delivery, backfill, replay) produces and what
 * `inbox.accept` stores and handlers receive.
 *
 * @module
 */

/** How an event entered whd. */
export type EventSource = "delivery" | "backfill" | "replay";

/** A verified event, ready for `inbox.accept`. */
export interface IncomingEvent {
  /**
   * Provider's event id (Stripe `evt_…`, GitHub delivery GUID, …); unique per provider. Valid
   * Unicode without control characters, at most 255 bytes of UTF-8 (a delivery with any other
   * id is refused before it gets here: `checkIdentity` in `providers/_shared.ts`), so the id
   * stored is exactly the one deduped.
   */
  id: string;
  /** Provider name from the config (key under `providers:`). */
  provider: string;
  /** Webhook name from the config (key under `webhooks:`). */
  webhook: string;
  /** Event type, e.g. `payment_intent.succeeded` or `push`; the same rules as `id`. */
  type: string;
  /** The raw JSON body exactly as received (or as the API returned it). */
  payload: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
  source: EventSource;
  /**
   * The request headers that matter (content type, user agent, delivery id …) as JSON text,
   * never a signature (`http/kept_headers.ts`); absent for events not from a delivery.
   */
  headers?: string | null;
}

/** What a handler receives: the stored event with its payload parsed. */
export interface Event {
  id: string;
  provider: string;
  webhook: string;
  type: string;
  /** The parsed JSON body. */
  payload: unknown;
  /** ISO 8601 time whd first stored the event. */
  received_at: string;
  source: EventSource;
}
