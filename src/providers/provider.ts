/**
 * The one small interface every provider implements: verify a delivery, sign one.
 *
 * @module
 */
import type { ProviderType, WebhookConfig } from "../config/schema.ts";

/** What a verifier sees of a request: headers and the raw body bytes. */
export interface VerifyRequest {
  headers: Headers;
  body: Uint8Array;
  /** Current time in milliseconds, for timestamp tolerance. */
  now: number;
}

/** Why a delivery was rejected; each maps to a 400 with a helpful, secret-free message. */
export type RejectionCode =
  | "missing_signature"
  | "bad_signature"
  | "stale_timestamp"
  | "invalid_json"
  | "missing_id"
  | "missing_type"
  | "invalid_id"
  | "invalid_type"
  | "livemode_mismatch";

/** A verified delivery, normalized. */
export interface Verified {
  ok: true;
  /** Event id, unique per provider. */
  id: string;
  /** Event type (GitHub: `event` or `event.action`). */
  type: string;
  /** JSON text to store: the raw body, or a JSON rendering of a form body (Slack). */
  payload: string;
  /** The API version the provider rendered the payload with, when it says (Stripe `api_version`). */
  version?: string;
  /**
   * A reply the provider expects instead of `{"received":true}` (Slack `url_verification`,
   * GitHub `ping`); such deliveries are not stored.
   */
  reply?: { status: number; body: unknown };
}

/** A rejected delivery. */
export interface Rejected {
  ok: false;
  code: RejectionCode;
  /** Tells the sender what was wrong; never contains a secret or a computed signature. */
  message: string;
}

/** Result of {@linkcode Verifier.verify}. */
export type VerifyResult = Verified | Rejected;

/** Verifies deliveries for one webhook with its resolved secrets. */
export interface Verifier {
  verify(request: VerifyRequest): Promise<VerifyResult>;
}

/** Options for {@linkcode ProviderKind.sign}. */
export interface SignOptions {
  /** One secret, exactly as it would appear in the env var. */
  secret: string;
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Delivery id for schemes that carry one in a header (GitHub, Standard Webhooks, hmac). */
  id?: string;
  /** Event type for schemes that carry it in a header (GitHub, hmac `type_header`). */
  type?: string;
}

/** A provider type: builds verifiers, signs bodies (for `whd send` and tests). */
export interface ProviderKind {
  type: ProviderType;
  /** `secrets` is the rotation list; any one may match. Empty only with `verify_signature: false`. */
  createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier;
  /** Headers that make `body` verify for `webhook` (content-type included). */
  sign(webhook: WebhookConfig, body: string, options: SignOptions): Promise<Record<string, string>>;
  /** A realistic sample delivery body of `type` (or a typical type), for `whd send --sample`. */
  sample(type?: string): { type: string; body: string };
}
