/**
 * The headers kept with a delivery, for every provider type, on the headers each provider's own
 * signing produces: the delivery id, event and timestamp headers are kept, the signature never.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/loader.ts";
import { headerKeeper } from "../../src/http/kept_headers.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";

const YAML = `providers:
  stripe:
    webhooks: { default: { path: /s, signing_secret_env: S } }
  github:
    webhooks: { default: { path: /g, signing_secret_env: S } }
  slack:
    webhooks: { default: { path: /k, signing_secret_env: S } }
  standard:
    webhooks: { default: { path: /w, signing_secret_env: S } }
  shop:
    type: hmac
    webhooks:
      default:
        path: /h
        signing_secret_env: S
        signature_header: X-Shop-Token
        id_header: X-Shop-Delivery
        type_header: X-Shop-Signature-Type
`;

Deno.test("kept headers: delivery ids and timestamps kept, signatures never (each provider's own signing)", async () => {
  const config = parseConfig(YAML, "whd.yaml");
  const expected: Record<string, string[]> = {
    stripe: ["content-type", "user-agent"],
    github: ["content-type", "user-agent", "x-github-delivery", "x-github-event"],
    slack: ["content-type", "x-slack-request-timestamp"],
    standard: ["content-type", "webhook-id", "webhook-timestamp"],
    shop: ["content-type", "x-shop-delivery"],
  };
  for (const provider of config.providers) {
    const webhook = provider.webhooks[0];
    const secret = provider.type === "standard"
      ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
      : "a_signing_secret_long_enough_1234";
    const { body, type } = PROVIDERS[provider.type].sample();
    const signed = await PROVIDERS[provider.type].sign(webhook, body, {
      secret,
      id: "delivery-1",
      type,
    });
    const headers = new Headers(signed);
    if (provider.type === "stripe") headers.set("user-agent", "Stripe/1.0");
    if (provider.type === "hmac") headers.set("x-shop-delivery", "delivery-1");
    const kept = JSON.parse(headerKeeper(webhook)(headers) ?? "{}");
    assert.deepEqual(Object.keys(kept).sort(), expected[provider.name], provider.name);
    for (const [name, value] of Object.entries(kept)) {
      assert.equal(value, headers.get(name));
    }
    const text = JSON.stringify(kept);
    assert.ok(!/signature|token|v1=|sha256=/i.test(text), `${provider.name}: ${text}`);
    for (const [name, value] of headers) {
      if (/signature|token/i.test(name)) assert.ok(!text.includes(value), name);
    }
  }
  // A request with none of them keeps nothing (stored as NULL).
  assert.equal(headerKeeper(config.providers[0].webhooks[0])(new Headers()), null);
});
