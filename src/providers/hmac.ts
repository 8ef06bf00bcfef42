/**
 * Generic HMAC webhooks, for senders with their own scheme: an HMAC over the raw body in
 * `signature_header`, with `algorithm` (sha1 | sha256 | sha512, default sha256), `encoding`
 * (hex | base64, default hex) and `signature_prefix` (default "", e.g. `sha256=`). No
 * timestamp is signed, so there is no replay window; dedupe by id covers repeats.
 *
 * id comes from `id_header` or the JSON pointer `id_path` (RFC 6901, e.g. `/data/id`; `~1`
 * is `/`, `~0` is `~`), type from `type_header` or `type_path`; a string or number value is
 * accepted. The config loader guarantees one source of each.
 *
 * @example
 * ```yaml
 * webhooks:
 *   orders:
 *     path: /hooks/shop
 *     signing_secret_env: SHOP_SECRET
 *     signature_header: X-Shop-Signature
 *     signature_prefix: "sha256="
 *     id_path: /id
 *     type_path: /type
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import {
  computeHmac,
  decodeSignature,
  DIGEST_BYTES,
  type HmacAlgorithm,
  randomId,
} from "./_crypto.ts";
import { reject, requireSecrets, resolvePointer, templateVerifier } from "./_shared.ts";
import type { ProviderKind, Verifier } from "./provider.ts";

/** The hmac keys of a webhook with their defaults applied. */
interface _Scheme {
  header: string;
  algorithm: HmacAlgorithm;
  encoding: "hex" | "base64";
  prefix: string;
}

function _scheme(webhook: WebhookConfig): _Scheme {
  if (!webhook.signature_header) {
    throw new UserError(
      `webhook ${webhook.provider}.${webhook.name} (type hmac) needs signature_header: the ` +
        `request header that carries the signature, e.g. X-Signature`,
    );
  }
  return {
    header: webhook.signature_header,
    algorithm: webhook.algorithm ?? "sha256",
    encoding: webhook.encoding ?? "hex",
    prefix: webhook.signature_prefix ?? "",
  };
}

/** A configured id or type: from a header or a JSON pointer into the payload. */
function _field(
  header: string | undefined,
  path: string | undefined,
  headers: Headers,
  payload: unknown,
): string | undefined {
  if (header) return headers.get(header) || undefined;
  if (path === undefined) return undefined;
  const v = resolvePointer(payload, path);
  if (typeof v === "string" && v.length > 0) return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

function _where(header: string | undefined, path: string | undefined): string {
  return header ? `header ${header}` : path !== undefined ? `JSON pointer ${path}` : "(unset)";
}

function _createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier {
  requireSecrets(webhook, secrets); // before the secrets are read, as every provider does
  const scheme = webhook.verify_signature ? _scheme(webhook) : undefined;
  const { id_header, id_path, type_header, type_path } = webhook;
  const expectedBytes = scheme ? DIGEST_BYTES[scheme.algorithm] : 0;
  const format = scheme
    ? `${scheme.prefix}<${scheme.algorithm} HMAC of the raw body, ${scheme.encoding}>`
    : "";

  return templateVerifier(webhook, secrets, {
    signatureName: scheme?.header ?? "",
    algorithm: scheme?.algorithm,
    signed(headers) {
      const { header, prefix, encoding } = scheme!;
      const value = headers.get(header);
      if (!value) {
        return reject(
          "missing_signature",
          `missing ${header} header: sign the raw body as ${format}`,
        );
      }
      const sig = decodeSignature(value, prefix, encoding, expectedBytes);
      if (!sig) {
        return reject(
          "bad_signature",
          `${header} is not in the configured format ${format}: check algorithm, ` +
            `encoding and signature_prefix against what the sender sends`,
        );
      }
      return { prefix: "", signatures: [sig] };
    },
    identify({ headers, value, text }) {
      const id = _field(id_header, id_path, headers, value);
      if (!id) {
        return reject(
          "missing_id",
          `no event id at ${_where(id_header, id_path)}: send it there, or point id_header/` +
            `id_path at where the sender puts it`,
        );
      }
      const type = _field(type_header, type_path, headers, value);
      if (!type) {
        return reject(
          "missing_type",
          `no event type at ${_where(type_header, type_path)}: send it there, or point ` +
            `type_header/type_path at where the sender puts it`,
        );
      }
      return { ok: true, id, type, payload: text };
    },
  });
}

/** `{ "id": …, "type": "example.created", … }` (fits the `id_path: /id`, `type_path: /type`). */
function _sample(type = "example.created"): { type: string; body: string } {
  const payload = {
    id: randomId("evt_", 20),
    type,
    created_at: new Date().toISOString(),
    data: { id: randomId("obj_", 16), name: "Example", amount: 1234 },
  };
  return { type, body: JSON.stringify(payload, null, 2) };
}

/** Headers that make `body` verify for `webhook` with `options.secret`. */
// deno-lint-ignore require-await
const _sign: ProviderKind["sign"] = async (webhook, body, { secret, id, type }) => {
  const scheme = _scheme(webhook);
  const digest = computeHmac(scheme.algorithm, secret, body).toString(scheme.encoding);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    [scheme.header.toLowerCase()]: scheme.prefix + digest,
  };
  if (webhook.id_header) headers[webhook.id_header.toLowerCase()] = id ?? randomId("evt_", 20);
  if (webhook.type_header) {
    headers[webhook.type_header.toLowerCase()] = type ?? "example.created";
  }
  return headers;
};

/**
 * The generic HMAC provider. `sign` also sets `id_header` / `type_header` when configured,
 * from `options.id` (default a random id) and `options.type` (default `example.created`).
 *
 * @example
 * ```ts
 * import { hmac } from "./hmac.ts";
 * const { body } = hmac.sample();
 * // const headers = await hmac.sign(webhook, body, { secret });
 * ```
 */
export const hmac: ProviderKind = {
  type: "hmac",
  createVerifier: _createVerifier,
  sign: _sign,
  sample: _sample,
};
