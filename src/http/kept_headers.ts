/**
 * The request headers kept with a stored delivery, for the console: the ones that say what was
 * delivered and by whom (content type, user agent, the provider's delivery id, event name,
 * timestamp, retry count), never a signature, a secret or a credential. The list is resolved
 * once per webhook; keeping a delivery's headers is a few `Headers.get` calls and one string.
 *
 * @example
 * ```ts
 * import { headerKeeper } from "./kept_headers.ts";
 * const keep = headerKeeper({ type: "github" });
 * keep(new Headers({ "x-github-delivery": "d1", "x-hub-signature-256": "sha256=…" }));
 * // '{"x-github-delivery":"d1"}'
 * ```
 * @module
 */
import type { ProviderType, WebhookConfig } from "../config/schema.ts";

/** Kept for every provider. */
const _COMMON = ["content-type", "user-agent"];

/** Kept per provider type, besides {@linkcode _COMMON}. */
const _BY_TYPE: Record<ProviderType, readonly string[]> = {
  stripe: [],
  github: [
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-github-hook-installation-target-type",
    "x-github-hook-installation-target-id",
  ],
  slack: ["x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason"],
  standard: ["webhook-id", "webhook-timestamp", "svix-id", "svix-timestamp"],
  hmac: [],
};

/** A header name that may carry a secret or a signature is never kept, whatever the config says. */
const _NEVER = /signature|secret|token|authorization|cookie|api-?key|password|^x-hub-/i;

/** Turns a request's headers into the JSON text stored with the event (null: none of them). */
export type HeaderKeeper = (headers: Headers) => string | null;

/**
 * The keeper of one webhook: common names, its provider type's, and for `hmac` its `id_header`
 * and `type_header`; never its `signature_header` nor any name that looks like a credential.
 */
export function headerKeeper(
  webhook: Pick<WebhookConfig, "type" | "signature_header" | "id_header" | "type_header">,
): HeaderKeeper {
  const names = [..._COMMON, ...(_BY_TYPE[webhook.type] ?? [])];
  if (webhook.type === "hmac") {
    for (const extra of [webhook.id_header, webhook.type_header]) {
      if (extra) names.push(extra.toLowerCase());
    }
  }
  const signature = webhook.signature_header?.toLowerCase();
  const kept = [...new Set(names)].filter((n) => n !== signature && !_NEVER.test(n));
  // Each name's JSON key is built once: a delivery only appends values.
  const keys = kept.map((n) => `${JSON.stringify(n)}:`);
  return (headers) => {
    let text = "";
    for (let i = 0; i < kept.length; i++) {
      const value = headers.get(kept[i]);
      if (value === null) continue;
      text += `${text === "" ? "{" : ","}${keys[i]}${JSON.stringify(value)}`;
    }
    return text === "" ? null : `${text}}`;
  };
}
