/**
 * An unknown key is an error in EVERY block of the config, naming the key and where it is —
 * not only in some blocks. One row per block; a new block belongs in this table.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../src/config/loader.ts";
import { ConfigSchema } from "../src/config/schema.ts";
import { ConfigError } from "../src/errors.ts";

/** A valid config with every block present; `at` gets the extra key `bogus_key: 1`. */
function configWith(at: string): string {
  const extra = (block: string, indent: string) => block === at ? `\n${indent}bogus_key: 1` : "";
  return `server:
  port: 8080${extra("server", "  ")}
database:
  url: file:data/whd.db${extra("database", "  ")}
admin:
  listen: 127.0.0.1:9090${extra("admin", "  ")}
handlers:
  dir: handlers${extra("handlers", "  ")}
log:
  level: info${extra("log", "  ")}
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    rate_limit:
      requests_per_minute: 60${extra("provider rate_limit", "      ")}
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        rate_limit:
          requests_per_minute: 60${extra("webhook rate_limit", "          ")}${
    extra("webhook", "        ")
  }${extra("provider", "    ")}
  acme:
    type: hmac
    webhooks:
      default:
        path: /webhooks/acme
        signing_secret_env: ACME_SECRET
        signature_header: X-Sig
        id_path: /id
        type_path: /type${extra("hmac webhook", "        ")}${extra("top level", "")}
`;
}

const BLOCKS: [string, RegExp][] = [
  ["top level", /^bogus_key \(line \d+\): unknown key "bogus_key"/m],
  ["server", /server.*bogus_key|bogus_key.*server/],
  ["database", /database.*bogus_key|bogus_key.*database/],
  ["admin", /admin.*bogus_key|bogus_key.*admin/],
  ["handlers", /handlers.*bogus_key|bogus_key.*handlers/],
  ["log", /log.*bogus_key|bogus_key.*log/],
  ["provider", /providers\.stripe.*bogus_key/],
  ["provider rate_limit", /providers\.stripe\.rate_limit.*bogus_key/],
  ["webhook", /providers\.stripe\.webhooks\.default.*bogus_key/],
  ["webhook rate_limit", /providers\.stripe\.webhooks\.default\.rate_limit.*bogus_key/],
  ["hmac webhook", /providers\.acme\.webhooks\.default.*bogus_key/],
];

Deno.test("the table covers every object block of the schema", () => {
  const objects = Object.entries(ConfigSchema.shape)
    .filter(([, v]) => JSON.stringify(v.def?.type ?? "") !== '"array"')
    .map(([k]) => k);
  for (const key of objects) {
    if (key === "ip_allowlist") continue; // a list, not a block
    const block = key === "providers" ? "provider" : key;
    assert.ok(BLOCKS.some(([name]) => name === block), `no row for ${key}`);
  }
});

Deno.test("the config without the extra key is valid", () => {
  parseConfig(configWith("none"), "test.yaml");
});

for (const [block, expected] of BLOCKS) {
  Deno.test(`an unknown key in ${block} is an error naming it`, () => {
    assert.throws(
      () => parseConfig(configWith(block), "test.yaml"),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.exitCode, 2);
        const text = error.problems.join("\n");
        assert.match(text, expected);
        assert.match(text, /line \d+/);
        return true;
      },
    );
  });
}
