/**
 * Secrets from the environment: the two forms of signing_secret_env, no silent trimming, and
 * Standard Webhooks secrets as the reference libraries take them.
 */
import assert from "node:assert/strict";
import { parseConfig, resolveSecrets, secretsFor } from "../src/config/loader.ts";
import { ConfigError } from "../src/errors.ts";
import { PROVIDERS } from "../src/providers/mod.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

function config(webhookYaml: string, type = "standard") {
  return parseConfig(
    `providers:\n  ${type}:\n    webhooks:\n      default:\n        path: /h\n` +
      webhookYaml.split("\n").map((l) => `        ${l}`).join("\n") + "\n",
    "test.yaml",
  );
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("standard secrets without base64 padding are accepted, as the reference libraries pad them", () => {
  const c = config("signing_secret_env: SW_SECRET");
  for (
    const secret of ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"]
  ) {
    const resolved = resolveSecrets(c, envOf({ SW_SECRET: secret }));
    assert.deepEqual(secretsFor(resolved, c.providers[0].webhooks[0]), [secret]);
  }
  // Not base64 at all (length 4n+1, a stray character) is still refused, without the value.
  for (const bad of ["whsec_MfKQ9", "whsec_Mf*Q"]) {
    const [p] = problems(() => resolveSecrets(c, envOf({ SW_SECRET: bad })));
    assert.match(p, /not a Standard Webhooks secret/);
    assert.ok(!p.includes(bad));
  }
});

Deno.test("a secret with whitespace around it is refused with a clear message, never trimmed", () => {
  const single = config("signing_secret_env: SW_SECRET", "github");
  for (const value of [" gh-secret", "gh-secret\n", "new-secret, old-secret ", "\tgh-secret"]) {
    const [p] = problems(() => resolveSecrets(single, envOf({ SW_SECRET: value })));
    assert.match(p, /signing_secret_env: .*SW_SECRET has whitespace around it: remove it/, p);
    assert.ok(!p.includes("gh-secret") && !p.includes("old-secret"), p);
  }
  const listed = config("signing_secret_env: [NEW_SECRET, OLD_SECRET]", "github");
  const [p] = problems(() =>
    resolveSecrets(listed, envOf({ NEW_SECRET: "new", OLD_SECRET: "old " }))
  );
  assert.match(p, /the secret in environment variable OLD_SECRET has whitespace around it/);
});

Deno.test("signing_secret_env as a YAML list: one secret per variable, commas included", async () => {
  const c = config("signing_secret_env: [NEW_SECRET, OLD_SECRET]", "github");
  const env = envOf({ NEW_SECRET: "new,with,commas", OLD_SECRET: "old-secret" });
  const secrets = new Set<string>();
  const resolved = resolveSecrets(c, env, { secrets });
  const webhook = c.providers[0].webhooks[0];
  assert.deepEqual(secretsFor(resolved, webhook), ["new,with,commas", "old-secret"]);
  assert.deepEqual([...secrets].sort(), ["new,with,commas", "old-secret"]);
  // The secret with commas verifies a delivery signed with it.
  const body = '{"zen":"x"}';
  const headers = await PROVIDERS.github.sign(webhook, body, {
    secret: "new,with,commas",
    id: "d-1",
    type: "ping",
  });
  const verifier = PROVIDERS.github.createVerifier(webhook, secretsFor(resolved, webhook));
  const result = await verifier.verify({
    headers: new Headers({ ...headers, "x-github-event": "issues" }),
    body: new TextEncoder().encode(body),
    now: Date.now(),
  });
  assert.ok(result.ok, JSON.stringify(result));
  // Each listed variable must be set.
  const [p] = problems(() => resolveSecrets(c, envOf({ NEW_SECRET: "x" })));
  assert.match(p, /OLD_SECRET is not set: export it \(one secret per variable in a list\)/);
});

Deno.test("signing_secret_env: the comma-separated form keeps working", () => {
  const c = config("signing_secret_env: SW_SECRET", "github");
  for (
    const value of ["new-secret,old-secret", "new-secret, old-secret", "new-secret,,old-secret,"]
  ) {
    const resolved = resolveSecrets(c, envOf({ SW_SECRET: value }));
    assert.deepEqual(secretsFor(resolved, c.providers[0].webhooks[0]), [
      "new-secret",
      "old-secret",
    ]);
  }
});

Deno.test("signing_secret_env: an empty list or a bad name in the list is a config error naming it", () => {
  assert.match(
    problems(() => config("signing_secret_env: []", "github")).join("\n"),
    /signing_secret_env/,
  );
  assert.match(
    problems(() => config("signing_secret_env: [GOOD, not-a-name]", "github")).join("\n"),
    /signing_secret_env/,
  );
  assert.match(
    problems(() => config("signing_secret_env: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]", "github"))
      .join("\n"),
    /looks like a secret/,
  );
});

Deno.test("type_path is accepted for standard webhooks and refused for stripe", () => {
  const c = config("signing_secret_env: SW_SECRET\ntype_path: /event/kind");
  assert.equal(c.providers[0].webhooks[0].type_path, "/event/kind");
  const [p] = problems(() => config("signing_secret_env: S\ntype_path: /type", "stripe"));
  assert.match(p, /type_path.*only applies to type: hmac or standard providers/);
});
