/**
 * Slack requests: `X-Slack-Signature: v0=<hex>`, an HMAC-SHA256 over
 * `v0:${X-Slack-Request-Timestamp}:${rawBody}` keyed with the app's signing secret; the
 * timestamp must be within `tolerance_seconds` of now.
 *
 * What is stored, by body:
 * - JSON Events API bodies (`type` at the top level):
 *   - `url_verification` → reply `{ challenge }` with 200; not stored.
 *   - `app_rate_limited` → reply `{ received: true }` with 200; not stored.
 *   - `event_callback` → id `event_id`, type the inner `event.type` (e.g. `app_mention`);
 *     the payload is the raw body. Slack retries carry the same `event_id`, so they dedupe.
 *   - any other `type` → that type, id `event_id` (missing → `missing_id`).
 * - Form bodies (`application/x-www-form-urlencoded`):
 *   - interactivity, `payload=<json>` → type `interactive.<payload.type>` (e.g.
 *     `interactive.block_actions`); id the payload's `trigger_id`, else the SHA-256 hex of the
 *     raw body (some interactions, e.g. `block_suggestion`, carry no trigger id; the hash
 *     dedupes exact repeats only). The stored payload is the `payload` field's JSON text.
 *   - slash commands, `command=/x…` → type `slash_command`, id `trigger_id`; the stored
 *     payload is `JSON.stringify(Object.fromEntries(form))`.
 *   - `ssl_check=1` (Slack probing a slash command URL) → reply 200; not stored.
 *
 * @example
 * ```ts
 * import { slack } from "./slack.ts";
 * const { body } = slack.sample(); // an event_callback with an app_mention
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { computeHmac, DIGEST_BYTES, randomId, sha256Hex, signatureHex } from "./_crypto.ts";
import {
  checkTimestamp,
  isFormBody,
  isRejected,
  missingHeaders,
  parseJson,
  reject,
  stringField,
  templateVerifier,
} from "./_shared.ts";
import type { ProviderKind, Verified, Verifier, VerifyResult } from "./provider.ts";

const _PREFIX = "v0=";

function _fromJson(text: string, body: Uint8Array): VerifyResult {
  const json = parseJson(text);
  if (isRejected(json)) return json;
  const value = json.value;
  const kind = stringField(value, "type");
  if (!kind) {
    return reject(
      "missing_type",
      "Slack body has no string `type`: send an Events API body (event_callback, " +
        "url_verification) or a form-encoded interaction",
    );
  }
  if (kind === "url_verification") {
    const challenge = stringField(value, "challenge");
    if (!challenge) {
      return reject("missing_id", "url_verification body has no string `challenge`");
    }
    return {
      ok: true,
      id: sha256Hex(body),
      type: kind,
      payload: text,
      reply: { status: 200, body: { challenge } },
    };
  }
  if (kind === "app_rate_limited") {
    return {
      ok: true,
      id: sha256Hex(body),
      type: kind,
      payload: text,
      reply: { status: 200, body: { received: true } },
    };
  }
  const id = stringField(value, "event_id");
  if (!id) {
    return reject("missing_id", `Slack ${kind} body has no string \`event_id\``);
  }
  if (kind !== "event_callback") return { ok: true, id, type: kind, payload: text };
  const inner = stringField((value as { event?: unknown }).event, "type");
  if (!inner) {
    return reject(
      "missing_type",
      "Slack event_callback has no string `event.type`: send the body exactly as Slack did",
    );
  }
  return { ok: true, id, type: inner, payload: text };
}

function _fromForm(text: string, body: Uint8Array): VerifyResult {
  const form = new URLSearchParams(text);
  const field = form.get("payload");
  if (field !== null) {
    const json = parseJson(field, "form field payload");
    if (isRejected(json)) return json;
    const kind = stringField(json.value, "type");
    if (!kind) {
      return reject(
        "missing_type",
        "Slack interaction payload has no string `type` (e.g. block_actions)",
      );
    }
    const id = stringField(json.value, "trigger_id") ?? sha256Hex(body);
    return { ok: true, id, type: `interactive.${kind}`, payload: field };
  }
  const fields = Object.fromEntries(form);
  if (form.get("ssl_check") === "1") {
    return {
      ok: true,
      id: sha256Hex(body),
      type: "ssl_check",
      payload: JSON.stringify(fields),
      reply: { status: 200, body: { received: true } },
    } satisfies Verified;
  }
  if (form.has("command")) {
    const id = form.get("trigger_id");
    if (!id) {
      return reject("missing_id", "Slack slash command has no trigger_id field");
    }
    return { ok: true, id, type: "slash_command", payload: JSON.stringify(fields) };
  }
  return reject(
    "missing_type",
    "Slack form body has neither payload= (interactivity) nor command= (slash command)",
  );
}

function _createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier {
  const tolerance = webhook.tolerance_seconds;
  return templateVerifier(webhook, secrets, {
    signatureName: "X-Slack-Signature",
    signed(headers, now) {
      const header = headers.get("x-slack-signature");
      const timestamp = headers.get("x-slack-request-timestamp");
      const missing = missingHeaders(
        { name: "X-Slack-Signature", value: header },
        { name: "X-Slack-Request-Timestamp", value: timestamp },
        "point the Slack app's Request URL here, or sign test requests with `whd send`",
      );
      if (missing) return missing;
      const stale = checkTimestamp(timestamp!, now, tolerance, "X-Slack-Request-Timestamp");
      if (stale) return stale;
      const sig = signatureHex(header!, _PREFIX, DIGEST_BYTES.sha256);
      if (!sig) {
        return reject(
          "bad_signature",
          "X-Slack-Signature must look like v0=<64 hex digits>: send the header exactly as " +
            "Slack produced it",
        );
      }
      return { prefix: `v0:${timestamp}:`, hexSignatures: [sig] };
    },
    json: false,
    identify: ({ headers, text, body }) =>
      isFormBody(headers) ? _fromForm(text, body) : _fromJson(text, body),
  });
}

/** An `event_callback` whose inner event is `type` (default `app_mention`). */
function _sample(type = "app_mention"): { type: string; body: string } {
  const ts = (Date.now() / 1000).toFixed(6);
  const team = randomId("T", 10).toUpperCase();
  const payload = {
    token: randomId("", 24),
    team_id: team,
    api_app_id: randomId("A", 10).toUpperCase(),
    event: {
      type,
      user: randomId("U", 10).toUpperCase(),
      text: "<@U0LAN0Z89> is it everything a river should be?",
      ts,
      channel: randomId("C", 10).toUpperCase(),
      event_ts: ts,
    },
    type: "event_callback",
    event_id: randomId("Ev", 10).toUpperCase(),
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: team, user_id: "U0LAN0Z89", is_bot: true }],
  };
  return { type, body: JSON.stringify(payload, null, 2) };
}

/** Headers that make `body` verify for `webhook` with `options.secret`. */
// deno-lint-ignore require-await
const _sign: ProviderKind["sign"] = async (_webhook, body, { secret, timestamp }) => {
  const t = timestamp ?? Math.floor(Date.now() / 1000);
  const signature = _PREFIX + computeHmac("sha256", secret, `v0:${t}:${body}`).toString("hex");
  return {
    "content-type": body.trimStart().startsWith("{")
      ? "application/json"
      : "application/x-www-form-urlencoded",
    "x-slack-request-timestamp": String(t),
    "x-slack-signature": signature,
  };
};

/**
 * The Slack provider. `sign` marks a body that starts with `{` as `application/json` and any
 * other body as `application/x-www-form-urlencoded`.
 *
 * @example
 * ```ts
 * import { slack } from "./slack.ts";
 * // const headers = await slack.sign(webhook, "command=%2Fdeploy&trigger_id=1.2", { secret });
 * ```
 */
export const slack: ProviderKind = {
  type: "slack",
  createVerifier: _createVerifier,
  sign: _sign,
  sample: _sample,
};
