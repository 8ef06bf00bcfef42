/**
 * Shared pieces of the provider tests: a hand-built WebhookConfig with the schema's defaults,
 * a request builder, and assertions that rejections carry the right code and no secret or
 * signature.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ProviderType, WebhookConfig } from "../../src/config/schema.ts";
import type {
  Rejected,
  RejectionCode,
  Verified,
  VerifyRequest,
  VerifyResult,
} from "../../src/providers/provider.ts";

/** A webhook as the config loader would produce it, defaults applied. */
export function webhookConfig(
  type: ProviderType,
  overrides: Partial<WebhookConfig> = {},
): WebhookConfig {
  return {
    name: "main",
    provider: type,
    type,
    path: `/hooks/${type}`,
    tolerance_seconds: 300,
    verify_signature: true,
    allow_unverified: false,
    mode: "async",
    ...overrides,
  };
}

/** A request as the server hands it to a verifier. */
export function request(
  headers: Record<string, string>,
  body: string | Uint8Array,
  now = Date.now(),
): VerifyRequest {
  return {
    headers: new Headers(headers),
    body: typeof body === "string" ? new TextEncoder().encode(body) : body,
    now,
  };
}

/** Asserts a verified result and returns it. */
export function assertVerified(result: VerifyResult): Verified {
  if (!result.ok) assert.fail(`expected verified, got ${result.code}: ${result.message}`);
  return result;
}

/**
 * Asserts a rejection with `code` whose message is non-empty and contains none of
 * `forbidden` (secrets, signatures and their hex/base64 renderings).
 */
export function assertRejected(
  result: VerifyResult,
  code: RejectionCode,
  forbidden: readonly string[] = [],
): Rejected {
  if (result.ok) assert.fail(`expected ${code}, got verified ${result.type} ${result.id}`);
  assert.equal(result.code, code, result.message);
  assert.ok(result.message.length > 20, "message explains the problem");
  for (const f of forbidden) {
    if (f.length < 8) continue;
    assert.ok(
      !result.message.includes(f),
      `message leaks a secret or signature: ${result.message}`,
    );
  }
  return result;
}

/** Whole seconds since the epoch for a time in ms. */
export const seconds = (ms: number): number => Math.floor(ms / 1000);
