/**
 * The order key and time of an accepted event, from its webhook's `order_key` (a JSON pointer
 * into the payload, e.g. `/data/object/id`): the key is the string or number found there (an
 * event without one is not ordered), the time is the provider's own creation time where the
 * payload carries one (Stripe `created`, Slack `event_time`, Standard Webhooks `timestamp`),
 * else the time whd received it. See `inbox/ordering.ts` for how claims use them.
 *
 * @example
 * ```ts
 * import { createOrderOf } from "./order_of.ts";
 * const orderOf = createOrderOf({ providers: [{ name: "stripe", type: "stripe", webhooks: [
 *   { name: "payments", provider: "stripe", type: "stripe", order_key: "/data/object/id" },
 * ] }] } as never);
 * orderOf!({ provider: "stripe", webhook: "payments", id: "evt_1", type: "invoice.paid",
 *   payload: '{"created":1700000000,"data":{"object":{"id":"in_1"}}}', receivedAt: 5,
 *   source: "delivery" });
 * // { key: "in_1", at: 1700000000000 }
 * ```
 * @module
 */
import type { Config, ProviderType } from "../config/schema.ts";
import type { IncomingEvent } from "../event.ts";
import type { OrderOf, OrderPlace } from "../inbox/ordering.ts";
import { resolvePointer } from "../providers/_shared.ts";

/** The provider's creation time of a payload in ms, when it carries one. */
function _createdAt(type: ProviderType, payload: Record<string, unknown>): number | undefined {
  const seconds = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) ? v * 1000 : undefined;
  switch (type) {
    case "stripe":
      return seconds(payload.created);
    case "slack":
      return seconds(payload.event_time);
    case "standard": {
      const at = typeof payload.timestamp === "string" ? Date.parse(payload.timestamp) : NaN;
      return Number.isNaN(at) ? undefined : at;
    }
    default:
      return undefined;
  }
}

/** Builds the {@linkcode OrderOf} of `config`; undefined when no webhook has `order_key`. */
export function createOrderOf(config: Pick<Config, "providers">): OrderOf | undefined {
  const pointers = new Map<string, { pointer: string; type: ProviderType }>();
  for (const provider of config.providers) {
    for (const webhook of provider.webhooks) {
      if (webhook.order_key === undefined) continue;
      pointers.set(`${provider.name}\u0000${webhook.name}`, {
        pointer: webhook.order_key,
        type: provider.type,
      });
    }
  }
  if (pointers.size === 0) return undefined;
  return (event: IncomingEvent): OrderPlace | undefined => {
    const ordered = pointers.get(`${event.provider}\u0000${event.webhook}`);
    if (!ordered) return undefined;
    let payload: unknown;
    try {
      payload = JSON.parse(event.payload);
    } catch {
      return undefined;
    }
    const key = resolvePointer(payload, ordered.pointer);
    if (typeof key !== "string" && typeof key !== "number") return undefined;
    const created = typeof payload === "object" && payload !== null
      ? _createdAt(ordered.type, payload as Record<string, unknown>)
      : undefined;
    return { key: String(key), at: Math.round(created ?? event.receivedAt) };
  };
}
