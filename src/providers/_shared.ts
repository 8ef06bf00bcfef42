/**
 * Steps every verifier shares: the verifier template ({@linkcode templateVerifier}: signature →
 * decode → parse → id and type), rejections, body decoding, JSON parsing, timestamp tolerance,
 * secret checks, JSON pointers. Messages tell the sender what is wrong and how to fix it and
 * never contain a secret or a signature.
 *
 * @example
 * ```ts
 * import { checkTimestamp } from "./_shared.ts";
 * checkTimestamp("1700000000", 1_700_000_100_000, 300, "webhook-timestamp"); // undefined: fresh
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import {
  type HmacAlgorithm,
  hmacDigests,
  hmacDigestsHex,
  type HmacKey,
  matchesAny,
  matchesAnyHex,
  prepareKeys,
} from "./_crypto.ts";
import type { Rejected, RejectionCode, Verifier, VerifyRequest, VerifyResult } from "./provider.ts";

/** A rejection with `code` and a secret-free `message`. */
export function reject(code: RejectionCode, message: string): Rejected {
  return { ok: false, code, message };
}

/** The usual "signature does not match" rejection. */
export function badSignature(what: string): Rejected {
  return reject(
    "bad_signature",
    `${what} does not match the body with any configured signing secret: check that the ` +
      `webhook's signing_secret_env holds this endpoint's secret and that nothing rewrites ` +
      `the body on the way`,
  );
}

const _lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const _strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The body as text (decoded once), or a rejection when it is not UTF-8. The lenient decoder is
 * about 5× faster than the fatal one; only a body that decodes to U+FFFD (a replaced invalid
 * sequence, or a genuine U+FFFD) is decoded again strictly.
 */
export function decodeBody(body: Uint8Array): string | Rejected {
  const text = _lenient.decode(body);
  if (!text.includes("\uFFFD")) return text;
  try {
    return _strict.decode(body);
  } catch {
    return reject("invalid_json", "body is not valid UTF-8: send a UTF-8 encoded JSON body");
  }
}

/** `text` parsed as JSON, or an `invalid_json` rejection. */
export function parseJson(text: string, what = "body"): { value: unknown } | Rejected {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return reject(
      "invalid_json",
      `${what} is not valid JSON: send the event as JSON with content-type application/json`,
    );
  }
}

/** Whether `x` is a {@linkcode Rejected}. */
export function isRejected(x: unknown): x is Rejected {
  return typeof x === "object" && x !== null && (x as { ok?: unknown }).ok === false;
}

const _SECONDS = /^\d{1,12}$/;
/**
 * Checks a seconds-since-epoch timestamp against `now` (ms): rejects a malformed value, one
 * older than `tolerance` seconds (replay) and one more than `tolerance` seconds ahead.
 * Returns undefined when fresh.
 */
export function checkTimestamp(
  value: string,
  now: number,
  tolerance: number,
  what: string,
): Rejected | undefined {
  if (!_SECONDS.test(value)) {
    return reject(
      "stale_timestamp",
      `${what} must be whole seconds since the Unix epoch, e.g. ${Math.floor(now / 1000)}`,
    );
  }
  const skew = Math.floor(now / 1000) - Number(value);
  if (skew > tolerance) {
    return reject(
      "stale_timestamp",
      `${what} is ${skew} s old, more than tolerance_seconds (${tolerance}): this looks like a ` +
        `replay; re-send a freshly signed delivery, check the sender's clock, or raise ` +
        `tolerance_seconds`,
    );
  }
  if (-skew > tolerance) {
    return reject(
      "stale_timestamp",
      `${what} is ${-skew} s in the future, more than tolerance_seconds (${tolerance}): ` +
        `check the sender's clock`,
    );
  }
  return undefined;
}

/**
 * Throws a {@linkcode UserError} when signatures are to be checked but no secret is set, so a
 * misconfigured webhook fails at startup rather than rejecting every delivery.
 */
export function requireSecrets(webhook: WebhookConfig, secrets: readonly string[]): void {
  if (!webhook.verify_signature) return;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) {
    throw new UserError(
      `webhook ${webhook.provider}.${webhook.name} verifies signatures but has no signing ` +
        `secret (or an empty one in its list): set signing_secret_env to an env var holding ` +
        `the secret (comma-separated for rotation), or set verify_signature: false`,
    );
  }
}

/** The longest event id or type whd stores, in UTF-8 bytes. */
export const MAX_ID_BYTES = 255;

const _CONTROL = /\p{Cc}/u;
/** Lengths (UTF-16 code units) whose UTF-8 encoding is within MAX_ID_BYTES whatever they hold. */
const _SURELY_SHORT = Math.floor(MAX_ID_BYTES / 3);
const _utf8 = new TextEncoder();

function _identityProblem(value: string): string | undefined {
  if (!value.isWellFormed()) {
    return "holds a lone UTF-16 surrogate (such as \\ud800 in the JSON), which is not valid " +
      "Unicode";
  }
  const control = _CONTROL.exec(value);
  if (control) {
    const code = control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `holds a control character (U+${code})`;
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8 and never fewer than 1, so only lengths in
  // between need encoding (an id or type is rarely longer than 85 characters).
  if (value.length <= _SURELY_SHORT) return undefined;
  const bytes = value.length > MAX_ID_BYTES ? value.length : _utf8.encode(value).length;
  if (bytes > MAX_ID_BYTES) {
    return value.length > MAX_ID_BYTES
      ? `is longer than ${MAX_ID_BYTES} bytes (${value.length} characters)`
      : `is ${bytes} bytes long (UTF-8)`;
  }
  return undefined;
}

/**
 * An `invalid_id` or `invalid_type` rejection when the id or type of a verified delivery is
 * not something whd can store and dedupe exactly: it must be valid Unicode (no lone
 * surrogates), hold no control characters and be at most {@linkcode MAX_ID_BYTES} bytes of
 * UTF-8. Undefined when both are fine. Every provider's result passes here (`mod.ts`).
 *
 * @example
 * ```ts
 * import { checkIdentity } from "./_shared.ts";
 * checkIdentity("evt_1", "invoice.paid"); // undefined
 * checkIdentity("evt_\ud800", "invoice.paid")?.code; // "invalid_id"
 * ```
 */
export function checkIdentity(id: string, type: string): Rejected | undefined {
  const idProblem = _identityProblem(id);
  if (idProblem) {
    return reject(
      "invalid_id",
      `event id ${idProblem}: ids must be valid Unicode without control characters, at most ` +
        `${MAX_ID_BYTES} bytes of UTF-8`,
    );
  }
  const typeProblem = _identityProblem(type);
  if (typeProblem) {
    return reject(
      "invalid_type",
      `event type ${typeProblem}: types must be valid Unicode without control characters, at ` +
        `most ${MAX_ID_BYTES} bytes of UTF-8`,
    );
  }
  return undefined;
}

/** `obj[key]` when `obj` is an object and the value is a non-empty string. */
export function stringField(obj: unknown, key: string): string | undefined {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return undefined;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** Whether the request declares an `application/x-www-form-urlencoded` body. */
export function isFormBody(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().includes(
    "application/x-www-form-urlencoded",
  );
}

/**
 * Resolves an RFC 6901 JSON pointer (`/data/object/id`; `~1` is `/`, `~0` is `~`) against a
 * parsed JSON value; undefined when a step is missing. Array steps take decimal indices.
 *
 * @example
 * ```ts
 * import { resolvePointer } from "./_shared.ts";
 * resolvePointer({ "a/b": { "~c": 1 } }, "/a~1b/~0c"); // 1
 * ```
 */
export function resolvePointer(value: unknown, pointer: string): unknown {
  if (pointer === "") return value;
  if (!pointer.startsWith("/")) return undefined;
  let current = value;
  for (const raw of pointer.slice(1).split("/")) {
    const step = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(step)) return undefined;
      current = current[Number(step)];
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, step)) {
      current = (current as Record<string, unknown>)[step];
    } else {
      return undefined;
    }
  }
  return current;
}

/** What a provider's signature scheme read from a request's headers. */
export type SignedParts =
  & {
    /** Bytes signed before the raw body (Stripe `${t}.`, Slack `v0:${t}:`); "" when none. */
    prefix: string;
  }
  & (
    /** Candidate signatures; the delivery passes when any one matches a key's digest. */
    | { signatures: Uint8Array[] }
    /** The same for schemes that send hex: lowercase hex text (`signatureHex`). */
    | { hexSignatures: string[] }
  );

/** A decoded delivery, as a provider's id and type rules see it. */
export interface Delivery {
  headers: Headers;
  /** The raw body bytes (for ids derived from them). */
  body: Uint8Array;
  /** The decoded body, after {@linkcode VerifierScheme.unwrap}: the payload to store. */
  text: string;
  /** `text` parsed as JSON; undefined with `json: false`. */
  value: unknown;
}

/**
 * What one provider brings to {@linkcode templateVerifier}: its signature scheme and its id and
 * type rules. Everything else (secret checks, HMAC, decode, JSON parse) is the template's.
 */
export interface VerifierScheme {
  /** Names the signature in the `bad_signature` message, e.g. `Stripe-Signature v1`. */
  signatureName: string;
  /** The HMAC of the scheme; default sha256. */
  algorithm?: HmacAlgorithm;
  /** The HMAC keys of the secrets; default the secrets' bytes as written. */
  keys?: HmacKey[];
  /** Checks run before the signature, even unsigned (Standard Webhooks: `webhook-id`). */
  before?(headers: Headers): Rejected | undefined;
  /**
   * Reads the signed parts from the headers (checking a signed timestamp against `now`), or a
   * rejection naming what is missing or malformed. Called only with `verify_signature`.
   */
  signed(headers: Headers, now: number): SignedParts | Rejected;
  /** Turns the decoded body into the JSON text to store (GitHub form bodies: `payload=`). */
  unwrap?(text: string, headers: Headers): string | Rejected;
  /** Whether the template parses the body as JSON (default true; Slack parses its own). */
  json?: boolean;
  /** The provider's id and type rules: a verified event, or a rejection. */
  identify(delivery: Delivery): VerifyResult;
}

/**
 * A verifier built from a provider's {@linkcode VerifierScheme}, in the order every provider
 * shares: secrets present (at startup) → signature (when `verify_signature`) → decode UTF-8 →
 * unwrap → parse JSON → the provider's id and type.
 *
 * @example
 * ```ts ignore
 * import { templateVerifier } from "./_shared.ts";
 * const verifier = templateVerifier(webhook, secrets, {
 *   signatureName: "X-Signature",
 *   signed: (headers) => ({ prefix: "", signatures: [decodeHex(headers.get("x-signature") ?? "")!] }),
 *   identify: ({ value, text }) => ({ ok: true, id: String(value.id), type: "t", payload: text }),
 * });
 * ```
 */
export function templateVerifier(
  webhook: WebhookConfig,
  secrets: readonly string[],
  scheme: VerifierScheme,
): Verifier {
  requireSecrets(webhook, secrets);
  const verifySignature = webhook.verify_signature;
  const keys = verifySignature ? scheme.keys ?? prepareKeys(secrets) : [];
  const algorithm = scheme.algorithm ?? "sha256";
  const parse = scheme.json ?? true;
  return {
    // deno-lint-ignore require-await
    async verify({ headers, body, now }: VerifyRequest): Promise<VerifyResult> {
      const early = scheme.before?.(headers);
      if (early) return early;
      if (verifySignature) {
        const parts = scheme.signed(headers, now);
        if (isRejected(parts)) return parts;
        const matched = "hexSignatures" in parts
          ? matchesAnyHex(hmacDigestsHex(keys, algorithm, parts.prefix, body), parts.hexSignatures)
          : matchesAny(hmacDigests(keys, algorithm, parts.prefix, body), parts.signatures);
        if (!matched) return badSignature(scheme.signatureName);
      }
      const decoded = decodeBody(body);
      if (isRejected(decoded)) return decoded;
      const text = scheme.unwrap ? scheme.unwrap(decoded, headers) : decoded;
      if (isRejected(text)) return text;
      let value: unknown;
      if (parse) {
        const json = parseJson(text);
        if (isRejected(json)) return json;
        value = json.value;
      }
      return scheme.identify({ headers, body, text, value });
    },
  };
}

/**
 * The `missing_signature` rejection for a scheme that needs two headers (signature and
 * timestamp): names the one absent, then says how to send it.
 */
export function missingHeaders(
  signature: { name: string; value: string | null },
  timestamp: { name: string; value: string | null },
  fix: string,
): Rejected | undefined {
  if (signature.value && timestamp.value) return undefined;
  const absent = signature.value ? timestamp.name : signature.name;
  return reject("missing_signature", `missing ${absent} header: ${fix}`);
}
