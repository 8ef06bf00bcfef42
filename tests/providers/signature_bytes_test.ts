/**
 * Every byte of a signature matters, for every scheme: a signature with any one byte changed,
 * or cut short, is rejected. Catches a MAC compared on a prefix (or on the shorter length) only.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ProviderType, WebhookConfig } from "../../src/config/schema.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { request, webhookConfig } from "./_helpers.ts";

interface Scheme {
  name: string;
  type: ProviderType;
  webhook: WebhookConfig;
  secret: string;
  /** The header carrying the signature, and the encoded digest inside it. */
  header: string;
  pattern: RegExp;
  encoding: "hex" | "base64";
}

const hmacHook = (algorithm: "sha1" | "sha256" | "sha512", encoding: "hex" | "base64") =>
  webhookConfig("hmac", {
    signature_header: "X-Sig",
    signature_prefix: `${algorithm}=`,
    algorithm,
    encoding,
    id_path: "/id",
    type_path: "/type",
  });

const SCHEMES: Scheme[] = [
  {
    name: "stripe",
    type: "stripe",
    webhook: webhookConfig("stripe"),
    secret: "whsec_bytes_test_secret",
    header: "stripe-signature",
    pattern: /v1=([0-9a-f]+)/,
    encoding: "hex",
  },
  {
    name: "github",
    type: "github",
    webhook: webhookConfig("github"),
    secret: "gh-bytes-test-secret",
    header: "x-hub-signature-256",
    pattern: /^sha256=([0-9a-f]+)$/,
    encoding: "hex",
  },
  {
    name: "slack",
    type: "slack",
    webhook: webhookConfig("slack"),
    secret: "slack-bytes-test-secret",
    header: "x-slack-signature",
    pattern: /^v0=([0-9a-f]+)$/,
    encoding: "hex",
  },
  {
    name: "standard",
    type: "standard",
    webhook: webhookConfig("standard"),
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    header: "webhook-signature",
    pattern: /^v1,([A-Za-z0-9+/=]+)$/,
    encoding: "base64",
  },
  ...(["sha1", "sha256", "sha512"] as const).flatMap((algorithm) =>
    (["hex", "base64"] as const).map((encoding): Scheme => ({
      name: `hmac ${algorithm} ${encoding}`,
      type: "hmac",
      webhook: hmacHook(algorithm, encoding),
      secret: "hmac-bytes-test-secret",
      header: "x-sig",
      pattern: new RegExp(`^${algorithm}=([A-Za-z0-9+/=]+)$`),
      encoding,
    }))
  ),
];

const BODY = JSON.stringify({
  id: "evt_bytes_1",
  type: "invoice.paid",
  event: { type: "app_mention" },
  event_id: "Ev0BYTES1",
  data: { amount: 1 },
});

for (const scheme of SCHEMES) {
  Deno.test(`${scheme.name}: a signature with any byte changed, or cut short, is rejected`, async () => {
    const kind = PROVIDERS[scheme.type];
    const now = Date.now();
    const headers = await kind.sign(scheme.webhook, BODY, {
      secret: scheme.secret,
      id: "evt_bytes_1",
      type: "push",
      timestamp: Math.floor(now / 1000),
    });
    const verifier = kind.createVerifier(scheme.webhook, [scheme.secret]);
    const verify = (value: string) =>
      verifier.verify(request({ ...headers, [scheme.header]: value }, BODY, now));
    const original = headers[scheme.header];
    assert.ok((await verify(original)).ok, `${scheme.name}: the untouched signature verifies`);

    const match = scheme.pattern.exec(original);
    assert.ok(match, `${scheme.name}: ${original} does not match ${scheme.pattern}`);
    const encoded = match[1];
    const digest = Buffer.from(encoded, scheme.encoding);
    assert.ok(digest.length >= 20);
    const reencode = (bytes: Uint8Array) =>
      original.replace(encoded, Buffer.from(bytes).toString(scheme.encoding));

    const accepted: string[] = [];
    for (let i = 0; i < digest.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const changed = Uint8Array.from(digest);
        changed[i] ^= mask;
        if ((await verify(reencode(changed))).ok) accepted.push(`byte ${i} ^ ${mask}`);
      }
    }
    for (const length of [0, 1, digest.length / 2, digest.length - 1]) {
      if ((await verify(reencode(digest.subarray(0, length)))).ok) {
        accepted.push(`cut to ${length} bytes`);
      }
    }
    // Cut in its encoded form too (a hex or base64 prefix of the real signature; dropping only
    // base64 padding keeps the same bytes, so cut the characters that carry them).
    const core = encoded.replace(/=+$/, "");
    for (const chars of [8, core.length - 2]) {
      if ((await verify(original.replace(encoded, encoded.slice(0, chars)))).ok) {
        accepted.push(`encoded form cut to ${chars} characters`);
      }
    }
    if ((await verify(reencode(Buffer.concat([digest, Buffer.from([0])])))).ok) {
      accepted.push("one byte appended");
    }
    assert.deepEqual(accepted, [], `${scheme.name} accepted altered signatures`);
  });
}
