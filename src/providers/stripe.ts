/**
 * Stripe webhooks: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, an
 * HMAC-SHA256 (hex) over `${t}.${rawBody}` keyed with the whole signing secret (`whsec_…` as
 * is). Several `v1` entries are allowed (Stripe sends one per active secret during a roll);
 * other schemes (`v0`, test schemes) are ignored. id and type are the payload's `id` and
 * `type`.
 *
 * @example
 * ```ts
 * import { stripe } from "./stripe.ts";
 * const { body } = stripe.sample();
 * // const headers = await stripe.sign(webhook, body, { secret: "whsec_…" });
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { computeHmac, DIGEST_BYTES, randomId, signatureHex } from "./_crypto.ts";
import { checkTimestamp, reject, stringField, templateVerifier } from "./_shared.ts";
import type { ProviderKind, Verifier, VerifyResult } from "./provider.ts";

const _HEADER = "stripe-signature";

/** What a `Stripe-Signature` header holds that we use. */
interface _Parsed {
  timestamp?: string;
  /** The v1 signatures as lowercase hex. */
  v1: string[];
}

function _parseHeader(header: string): _Parsed {
  const out: _Parsed = { v1: [] };
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") out.timestamp = value;
    else if (key === "v1") {
      // A v1 that is not a SHA-256 in hex can never match: keep an empty placeholder so the
      // delivery is rejected as bad_signature rather than missing_signature.
      out.v1.push(signatureHex(value, "", DIGEST_BYTES.sha256) ?? "");
    }
  }
  return out;
}

function _createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier {
  const tolerance = webhook.tolerance_seconds;
  return templateVerifier(webhook, secrets, {
    signatureName: "Stripe-Signature v1",
    signed(headers, now) {
      const header = headers.get(_HEADER);
      if (!header) {
        return reject(
          "missing_signature",
          "missing Stripe-Signature header: point a Stripe webhook endpoint at this URL, or " +
            "sign test deliveries with `whd send` or the Stripe CLI",
        );
      }
      const parsed = _parseHeader(header);
      if (parsed.timestamp === undefined || parsed.v1.length === 0) {
        return reject(
          "missing_signature",
          "Stripe-Signature header needs a t=<timestamp> and at least one v1=<signature> " +
            "entry: send the header exactly as Stripe produced it",
        );
      }
      return checkTimestamp(parsed.timestamp, now, tolerance, "Stripe-Signature t=") ??
        { prefix: `${parsed.timestamp}.`, hexSignatures: parsed.v1 };
    },
    identify: ({ value, text }) => _identify(value, text, webhook),
  });
}

/**
 * Why an event of mode `livemode` does not belong at `webhook` (config `livemode`), or
 * undefined when it does (or either side is unset). Backfill asks the same question.
 */
export function livemodeProblem(webhook: WebhookConfig, livemode: unknown): string | undefined {
  if (webhook.livemode === undefined || typeof livemode !== "boolean") return undefined;
  if (livemode === webhook.livemode) return undefined;
  const [got, want] = livemode ? ["live", "test"] : ["test", "live"];
  return `this is a ${got}-mode event and webhook ${webhook.provider}.${webhook.name} takes ` +
    `only ${want}-mode events (livemode: ${webhook.livemode}): point the Stripe ${got}-mode ` +
    `endpoint at a webhook configured for it, or remove livemode to accept both`;
}

/** A Stripe event's id and type (the payload's `id` and `type`), its mode and API version. */
function _identify(value: unknown, text: string, webhook: WebhookConfig): VerifyResult {
  const id = stringField(value, "id");
  if (!id) {
    return reject("missing_id", "Stripe event has no string `id`: send a Stripe event object");
  }
  const type = stringField(value, "type");
  if (!type) {
    return reject("missing_type", "Stripe event has no string `type`: send a Stripe event object");
  }
  const problem = livemodeProblem(webhook, (value as { livemode?: unknown }).livemode);
  if (problem) return reject("livemode_mismatch", problem);
  return { ok: true, id, type, payload: text, version: stringField(value, "api_version") };
}

/** A Stripe event envelope of `type` with a fresh `evt_` id and `created` of now. */
function _sample(type = "payment_intent.succeeded"): { type: string; body: string } {
  const created = Math.floor(Date.now() / 1000);
  const object = type.startsWith("payment_intent.")
    ? {
      id: randomId("pi_", 24),
      object: "payment_intent",
      amount: 2000,
      amount_received: type === "payment_intent.succeeded" ? 2000 : 0,
      currency: "usd",
      customer: randomId("cus_", 14),
      description: "whd sample payment",
      livemode: false,
      metadata: { order_id: randomId("", 8) },
      payment_method: randomId("pm_", 24),
      payment_method_types: ["card"],
      status: type === "payment_intent.succeeded" ? "succeeded" : "requires_payment_method",
      created,
    }
    : {
      id: randomId(`${type.split(".")[0].slice(0, 3)}_`, 24),
      object: type.split(".").slice(0, -1).join(".") || type,
      livemode: false,
      metadata: {},
      created,
    };
  const event = {
    id: randomId("evt_", 24),
    object: "event",
    api_version: "2024-06-20",
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: randomId("req_", 14), idempotency_key: crypto.randomUUID() },
    type,
  };
  return { type, body: JSON.stringify(event, null, 2) };
}

/** Headers that make `body` verify for `webhook` with `options.secret`. */
// deno-lint-ignore require-await
const _sign: ProviderKind["sign"] = async (_webhook, body, { secret, timestamp }) => {
  const t = timestamp ?? Math.floor(Date.now() / 1000);
  const v1 = computeHmac("sha256", secret, `${t}.${body}`).toString("hex");
  return { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` };
};

/**
 * The Stripe provider.
 *
 * @example
 * ```ts
 * import { stripe } from "./stripe.ts";
 * // const verifier = stripe.createVerifier(webhook, ["whsec_old", "whsec_new"]);
 * // const result = await verifier.verify({ headers, body, now: Date.now() });
 * ```
 */
export const stripe: ProviderKind = {
  type: "stripe",
  createVerifier: _createVerifier,
  sign: _sign,
  sample: _sample,
};
