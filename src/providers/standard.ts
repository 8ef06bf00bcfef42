/**
 * Standard Webhooks (the Svix scheme): headers `webhook-id`, `webhook-timestamp` (seconds,
 * within `tolerance_seconds`) and `webhook-signature`, a space-separated list of
 * `v1,<base64>` entries (other versions are ignored). Each is an HMAC-SHA256 over
 * `${id}.${timestamp}.${rawBody}` keyed with the base64 bytes after the secret's `whsec_`
 * prefix (a secret without the prefix is base64-decoded whole).
 *
 * Svix itself sends the same scheme under `svix-id`, `svix-timestamp` and `svix-signature`;
 * those are read when the `webhook-*` headers are absent.
 *
 * id is `webhook-id` (missing → `missing_id`, even before the signature, since it is part of
 * the signed content). The spec only recommends a `type` in the payload, so the type is read at
 * the webhook's `type_path` (a JSON pointer, default `/type`) and is {@linkcode UNKNOWN_TYPE}
 * when the body has none there: such an event is stored and a `_default` handler receives it.
 *
 * Conformance with the reference libraries (tests/providers/vectors/): secrets may be unpadded
 * base64; a timestamp exactly `tolerance_seconds` old is too old (Go and Python reject it).
 *
 * @example
 * ```ts
 * import { standard } from "./standard.ts";
 * const { body } = standard.sample(); // {"type":"invoice.paid",…}
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { computeHmac, decodeBase64, prepareKeys, randomId } from "./_crypto.ts";
import {
  checkTimestamp,
  missingHeaders,
  reject,
  requireSecrets,
  resolvePointer,
  templateVerifier,
} from "./_shared.ts";
import type { ProviderKind, Rejected, Verifier } from "./provider.ts";

const _SECRET_PREFIX = "whsec_";

/** The event type of a Standard Webhooks delivery whose body has no string at `type_path`. */
export const UNKNOWN_TYPE = "unknown";

/** The key bytes of a Standard Webhooks secret, or undefined when it is not base64. */
function _secretKey(secret: string): Uint8Array | undefined {
  return decodeBase64(
    secret.startsWith(_SECRET_PREFIX) ? secret.slice(_SECRET_PREFIX.length) : secret,
  );
}

function _header(headers: Headers, name: string): string | null {
  return headers.get(`webhook-${name}`) ?? headers.get(`svix-${name}`);
}

const _HEADERS_FIX = "Standard Webhooks deliveries carry webhook-id, webhook-timestamp and " +
  "webhook-signature";

/** `webhook-id`, checked before the signature since it is part of the signed content. */
function _requireId(headers: Headers): Rejected | undefined {
  if (_header(headers, "id")) return undefined;
  return reject("missing_id", `missing webhook-id header: ${_HEADERS_FIX}`);
}

/** The `v1,<base64>` entries of a `webhook-signature` header (other versions are ignored). */
function _v1Signatures(header: string): Uint8Array[] {
  const candidates: Uint8Array[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    candidates.push(decodeBase64(entry.slice(comma + 1)) ?? new Uint8Array(0));
  }
  return candidates;
}

function _createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier {
  requireSecrets(webhook, secrets); // before the secrets are read, as every provider does
  const keys = !webhook.verify_signature ? [] : prepareKeys(secrets.map((secret, i) => {
    const key = _secretKey(secret);
    if (!key) {
      throw new UserError(
        `secret #${i + 1} of webhook ${webhook.provider}.${webhook.name} is not a Standard ` +
          `Webhooks secret (whsec_ followed by base64): copy it exactly from the sender`,
      );
    }
    return key;
  }));
  const tolerance = webhook.tolerance_seconds;
  const typePath = webhook.type_path ?? "/type";

  return templateVerifier(webhook, secrets, {
    signatureName: "webhook-signature",
    keys,
    before: _requireId,
    signed(headers, now) {
      const timestamp = _header(headers, "timestamp");
      const header = _header(headers, "signature");
      const missing = missingHeaders(
        { name: "webhook-signature", value: header },
        { name: "webhook-timestamp", value: timestamp },
        _HEADERS_FIX,
      );
      if (missing) return missing;
      const stale = checkTimestamp(timestamp!, now, tolerance, "webhook-timestamp");
      if (stale) return stale;
      if (Math.floor(now / 1000) - Number(timestamp) >= tolerance) {
        // The reference libraries count a timestamp exactly at the tolerance as too old.
        return reject(
          "stale_timestamp",
          `webhook-timestamp is ${tolerance} s old, at tolerance_seconds (${tolerance}): this ` +
            "looks like a replay; re-send a freshly signed delivery, check the sender's clock, " +
            "or raise tolerance_seconds",
        );
      }
      const signatures = _v1Signatures(header!);
      if (signatures.length === 0) {
        return reject(
          "missing_signature",
          "webhook-signature has no v1,<base64> entry: sign with the v1 (HMAC-SHA256) scheme",
        );
      }
      return { prefix: `${_header(headers, "id")}.${timestamp}.`, signatures };
    },
    identify({ headers, value, text }) {
      const found = resolvePointer(value, typePath);
      const type = typeof found === "string" && found.length > 0 ? found : UNKNOWN_TYPE;
      return { ok: true, id: _header(headers, "id")!, type, payload: text };
    },
  });
}

/** A `{ type, timestamp, data }` payload of `type` (default `invoice.paid`). */
function _sample(type = "invoice.paid"): { type: string; body: string } {
  const payload = {
    type,
    timestamp: new Date().toISOString(),
    data: {
      id: randomId("inv_", 20),
      object: type.split(".")[0],
      customer_id: randomId("cust_", 16),
      amount: 4200,
      currency: "EUR",
      status: type.split(".").at(-1),
    },
  };
  return { type, body: JSON.stringify(payload, null, 2) };
}

/** Headers that make `body` verify for `webhook` with `options.secret`. */
// deno-lint-ignore require-await
const _sign: ProviderKind["sign"] = async (webhook, body, { secret, timestamp, id }) => {
  const key = _secretKey(secret);
  if (!key) {
    throw new UserError(
      `the secret for ${webhook.provider}.${webhook.name} is not a Standard Webhooks secret ` +
        `(whsec_ followed by base64): copy it exactly from the sender`,
    );
  }
  const t = timestamp ?? Math.floor(Date.now() / 1000);
  const msgId = id ?? randomId("msg_", 27);
  const signature = computeHmac("sha256", key, `${msgId}.${t}.${body}`).toString("base64");
  return {
    "content-type": "application/json",
    "webhook-id": msgId,
    "webhook-timestamp": String(t),
    "webhook-signature": `v1,${signature}`,
  };
};

/**
 * The Standard Webhooks provider. `sign` uses `options.id` (default a fresh `msg_` id) as
 * `webhook-id`.
 *
 * @example
 * ```ts
 * import { standard } from "./standard.ts";
 * // const headers = await standard.sign(webhook, body, { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
 * ```
 */
export const standard: ProviderKind = {
  type: "standard",
  createVerifier: _createVerifier,
  sign: _sign,
  sample: _sample,
};
