import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createLogger } from "../../src/ops/log.ts";
import { configuredSecrets, createScrubber, REDACTED, shortSecrets } from "../../src/ops/scrub.ts";
import { parseConfig } from "../../src/config/loader.ts";

// A canary with the characters that change under each encoding: quote, backslash, slash, plus,
// space, percent, non-ASCII.
const CANARY = 'sk_test_C4n4ry"\\/+ %é_0123456789';

function forms(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret, "utf8");
  return {
    raw: secret,
    json: JSON.stringify(secret),
    jsonTwice: JSON.stringify(JSON.stringify(secret)),
    url: encodeURIComponent(secret),
    urlLower: encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    form: new URLSearchParams({ q: secret }).toString(),
    base64: bytes.toString("base64"),
    base64url: bytes.toString("base64url"),
    basicAuth: Buffer.from(`${secret}:`).toString("base64"),
    basicAuthShifted: Buffer.from(`u:${secret}`).toString("base64"),
    basicAuthShifted2: Buffer.from(`us:${secret}`).toString("base64"),
    hex: bytes.toString("hex"),
    hexUpper: bytes.toString("hex").toUpperCase(),
  };
}

/** True when `text` still carries the secret in any form a reader could decode. */
function leaks(text: string, secret: string): string | undefined {
  for (const [name, form] of Object.entries(forms(secret))) {
    // The secret's distinctive middle in the encoded form (the ends of an aligned base64 run
    // may differ by a character).
    const core = form.slice(3, -3);
    if (text.includes(core)) return name;
  }
  if (text.includes("C4n4ry")) return "fragment";
  return undefined;
}

Deno.test("scrub: every encoded form of a secret is replaced, surrounding text kept", () => {
  const scrubber = createScrubber(new Set([CANARY]));
  for (const [name, form] of Object.entries(forms(CANARY))) {
    const text = `before ${form} after`;
    const out = scrubber.scrub(text);
    assert.equal(leaks(out, CANARY), undefined, `${name} leaked: ${out}`);
    assert.match(out, /^before .*\[redacted\].* after$/, name);
  }
});

Deno.test("scrub: several secrets (a rotation list, an API key) in one line, text between kept", () => {
  const secrets = ["whsec_oldOldOld123", "whsec_newNewNew456", "sk_live_abcdefgh1234"];
  const scrubber = createScrubber(new Set(secrets));
  const out = scrubber.scrub(`a=${secrets[0]} b=${secrets[1]} c=${secrets[2]} d=plain`);
  assert.equal(out, `a=${REDACTED} b=${REDACTED} c=${REDACTED} d=plain`);
});

Deno.test("scrub: the key of a Standard Webhooks secret is scrubbed without its whsec_ prefix", () => {
  const key = btoa("standard-webhooks-key-bytes!");
  const scrubber = createScrubber(new Set([`whsec_${key}`]));
  assert.equal(scrubber.scrub(`key=${key}`), `key=${REDACTED}`);
});

Deno.test("scrub: secrets shorter than 8 characters are left alone and named for a warning", () => {
  const scrubber = createScrubber(new Set(["abc"]));
  assert.equal(scrubber.scrub("abcabc abc"), "abcabc abc");
  const config = parseConfig(
    "providers:\n  github:\n    webhooks:\n      default:\n        path: /gh\n" +
      "        signing_secret_env: GH_SECRET\n  stripe:\n    api_key_env: STRIPE_KEY\n" +
      "    webhooks:\n      default:\n        path: /s\n        signing_secret_env: S_SECRET\n",
    "inline",
  );
  const env: Record<string, string> = {
    GH_SECRET: "short, long-enough-secret",
    STRIPE_KEY: "sk_test_key_123456",
  };
  const found = configuredSecrets(config, (n) => env[n]);
  assert.deepEqual(found.map((s) => s.value).sort(), [
    "long-enough-secret",
    "short",
    "sk_test_key_123456",
  ]);
  assert.deepEqual(shortSecrets(found), ["GH_SECRET"]);
});

Deno.test("scrub: a secret added to the set later is scrubbed from then on", () => {
  const secrets = new Set<string>();
  const scrubber = createScrubber(secrets);
  assert.equal(scrubber.scrub("key=sk_test_added_later"), "key=sk_test_added_later");
  secrets.add("sk_test_added_later");
  assert.equal(scrubber.scrub("key=sk_test_added_later"), `key=${REDACTED}`);
});

for (const format of ["text", "json"] as const) {
  Deno.test(`log (${format}): a canary secret in messages and fields never reaches a line`, () => {
    const lines: string[] = [];
    const log = createLogger({
      level: "debug",
      format,
      secrets: new Set([CANARY]),
      write: (l) => lines.push(l),
    });
    const f = forms(CANARY);
    log.info(`message with ${CANARY}`);
    log.warn("fields", { raw: CANARY, nested: { json: f.json, list: [f.base64] } });
    log.child({ bound: f.url }).error("child", { error: new Error(`failed: ${CANARY}`) });
    log.debug("auth", { header: `Basic ${f.basicAuth}`, hex: f.hex });
    assert.equal(lines.length, 4);
    for (const line of lines) {
      assert.equal(leaks(line, CANARY), undefined, line);
      assert.ok(line.includes(REDACTED), line);
      if (format === "json") JSON.parse(line); // still valid JSON after scrubbing
    }
    assert.equal(leaks(log.scrub(`stored error ${f.json}`), CANARY), undefined);
  });
}

Deno.test("scrub: configuredSecrets reads a YAML list of variables as one secret each, commas kept", () => {
  const config = parseConfig(
    "providers:\n  github:\n    webhooks:\n      default:\n        path: /gh\n" +
      "        signing_secret_env: [GH_NEW, GH_OLD]\n",
    "inline",
  );
  const env: Record<string, string> = { GH_NEW: "new,secret,with,commas", GH_OLD: "old-secret-1" };
  const found = configuredSecrets(config, (n) => env[n]);
  assert.deepEqual(found.map((s) => [s.env, s.value]), [
    ["GH_NEW", "new,secret,with,commas"],
    ["GH_OLD", "old-secret-1"],
  ]);
});
