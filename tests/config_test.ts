import assert from "node:assert/strict";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { ConfigError, UserError } from "../src/errors.ts";
import {
  EMBEDDED_SOURCE,
  EXAMPLE_CONFIG,
  loadConfig,
  parseConfig,
  resolveSecrets,
  secretsFor,
} from "../src/config/loader.ts";
import { secretEnvNames } from "../src/config/secrets.ts";
import {
  ConfigSchema,
  ProviderSchema,
  RateLimitSchema,
  type WebhookConfig,
  WebhookSchema,
} from "../src/config/schema.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** YAML from lines, so that a test's line numbers are its array indexes + 1. */
function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail("expected a ConfigError");
}

function hasProblem(problems: string[], expected: string): void {
  assert.ok(
    problems.includes(expected),
    `expected problem:\n  ${expected}\ngot:\n  ${problems.join("\n  ")}`,
  );
}

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

function parseEnvFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `not KEY=value: ${line}`);
    vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

function webhook(text: string, provider: string, name = "default"): WebhookConfig {
  const config = parseConfig(text, "test.yaml");
  const found = config.providers.find((p) => p.name === provider)?.webhooks.find((w) =>
    w.name === name
  );
  assert.ok(found, `no webhook ${provider}/${name}`);
  return found;
}

const STRIPE_ONLY = yaml(
  "providers:",
  "  stripe:",
  "    webhooks:",
  "      default:",
  "        path: /webhooks/stripe",
  "        signing_secret_env: STRIPE_WEBHOOK_SECRET",
);

// ---------------------------------------------------------------------------------------------
// The example config

Deno.test("the example config parses and every env var it names is set in config/demo.env", async () => {
  const text = await Deno.readTextFile(join(ROOT, "config/whd.yaml"));
  const config = parseConfig(text, "config/whd.yaml");
  assert.deepEqual(
    config.providers.map((p) => [p.name, p.type, p.webhooks.map((w) => w.path)]),
    [
      ["stripe", "stripe", ["/webhooks/stripe"]],
      ["github", "github", ["/webhooks/github"]],
      ["slack", "slack", ["/webhooks/slack"]],
      ["standard", "standard", ["/webhooks/standard"]],
      ["acme", "hmac", ["/webhooks/acme"]],
    ],
  );
  assert.equal(config.database.url, "file:data/whd.db");
  assert.equal(config.handlers.dir, "handlers");
  assert.deepEqual(config.providers[0].webhooks[0].events, [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "checkout.session.completed",
    "customer.subscription.*",
    "invoice.paid",
    "invoice.payment_failed",
    "v1.billing.meter.error_report_triggered",
  ]);

  const envText = await Deno.readTextFile(join(ROOT, "config/demo.env"));
  assert.match(envText.split("\n")[0], /DEMO ONLY — NOT FOR PRODUCTION/);
  const vars = parseEnvFile(envText);
  const named = config.providers.flatMap((p) => p.webhooks.flatMap((w) => secretEnvNames(w)));
  for (const name of named) assert.ok(vars.get(name!), `${name} missing from demo.env`);
  const resolved = resolveSecrets(config, (name) => vars.get(name));
  for (const provider of config.providers) {
    for (const w of provider.webhooks) assert.equal(secretsFor(resolved, w).length, 1);
  }

  const deno = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  assert.match(deno.tasks.start, /--env-file=config\/demo\.env/);
});

Deno.test("the demo Standard Webhooks secret is accepted by the standardwebhooks library", async () => {
  const vars = parseEnvFile(await Deno.readTextFile(join(ROOT, "config/demo.env")));
  const secret = vars.get("STANDARD_WEBHOOK_SECRET")!;
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const wh = new Webhook(secret);
  const body = '{"type":"demo"}';
  const now = new Date();
  const signature = wh.sign("msg_1", now, body);
  const verified = wh.verify(body, {
    "webhook-id": "msg_1",
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signature,
  });
  assert.deepEqual(verified, { type: "demo" });
});

Deno.test("the example config documents every key of the schema", () => {
  const keys = new Set([
    ...Object.keys(ConfigSchema.shape),
    ...Object.keys(ProviderSchema.shape),
    ...Object.keys(WebhookSchema.shape),
    ...Object.keys(RateLimitSchema.shape),
  ]);
  for (const section of ["server", "database", "handlers", "log"] as const) {
    const inner = ConfigSchema.shape[section].unwrap();
    for (const key of Object.keys(inner.shape)) keys.add(key);
  }
  for (const key of keys) {
    assert.match(EXAMPLE_CONFIG, new RegExp(`(^|[\\s#{])${key}:`, "m"), `${key} undocumented`);
  }
});

Deno.test("the embedded example is the file config/whd.yaml", async () => {
  assert.equal(EXAMPLE_CONFIG, await Deno.readTextFile(join(ROOT, "config/whd.yaml")));
});

// ---------------------------------------------------------------------------------------------
// Normalization

Deno.test("defaults are applied to every omitted key", () => {
  const config = parseConfig(STRIPE_ONLY, "test.yaml");
  assert.deepEqual(config.server, {
    host: "0.0.0.0",
    port: 8080,
    max_body_bytes: 1_048_576,
    header_timeout_ms: 10_000,
    body_timeout_ms: 30_000,
    idle_timeout_ms: 10_000,
    max_connections: 1_000,
    max_header_bytes: 16_384,
    trusted_proxies: [],
  });
  assert.deepEqual(config.database, {
    url: "file:data/whd.db",
    timeout_ms: 2000,
    dedupe_retention_days: 30,
  });
  assert.deepEqual(config.handlers, {
    dir: "handlers",
    max_attempts: 10,
    timeout_ms: 30_000,
    concurrency: 4,
    ingest_first: true,
    backoff_base_ms: 1_000,
    backoff_max_ms: 3_600_000,
    shutdown_grace_ms: 10_000,
    watch: true,
  });
  assert.deepEqual(config.log, { level: "info", format: "text" });
  assert.equal(config.source, "test.yaml");
  assert.deepEqual(config.providers[0].webhooks[0], {
    name: "default",
    provider: "stripe",
    type: "stripe",
    path: "/webhooks/stripe",
    signing_secret_env: "STRIPE_WEBHOOK_SECRET",
    tolerance_seconds: 300,
    verify_signature: true,
    allow_unverified: false,
    mode: "async",
  });
});

Deno.test("a provider's type is its type: key, else its name when that is a known type", () => {
  const config = parseConfig(
    yaml(
      "providers:",
      "  billing:",
      "    type: stripe",
      "    webhooks:",
      "      live: { path: /a, signing_secret_env: A }",
      "  github:",
      "    webhooks:",
      "      default: { path: /b, signing_secret_env: B }",
    ),
    "test.yaml",
  );
  assert.deepEqual(config.providers.map((p) => [p.name, p.type]), [
    ["billing", "stripe"],
    ["github", "github"],
  ]);
  assert.deepEqual(
    config.providers[0].webhooks.map((w) => [w.provider, w.name, w.type]),
    [["billing", "live", "stripe"]],
  );
});

Deno.test("hmac webhooks default to sha256 and hex", () => {
  const w = webhook(
    yaml(
      "providers:",
      "  acme:",
      "    type: hmac",
      "    webhooks:",
      "      default:",
      "        path: /acme",
      "        signing_secret_env: ACME",
      "        signature_header: X-Sig",
      "        id_path: /id",
      "        type_header: X-Type",
    ),
    "acme",
  );
  assert.equal(w.algorithm, "sha256");
  assert.equal(w.encoding, "hex");
});

Deno.test("the effective IP allowlist is the webhook's, else the provider's, else the top level", () => {
  const text = yaml(
    "ip_allowlist: [10.0.0.0/8]",
    "providers:",
    "  stripe:",
    "    ip_allowlist: [stripe]",
    "    webhooks:",
    "      own: { path: /a, signing_secret_env: A, ip_allowlist: [192.0.2.1] }",
    "      inherits: { path: /b, signing_secret_env: A }",
    "  github:",
    "    webhooks:",
    "      default: { path: /c, signing_secret_env: B }",
  );
  assert.deepEqual(webhook(text, "stripe", "own").effective_ip_allowlist, ["192.0.2.1"]);
  assert.deepEqual(webhook(text, "stripe", "inherits").effective_ip_allowlist, ["stripe"]);
  assert.deepEqual(webhook(text, "github").effective_ip_allowlist, ["10.0.0.0/8"]);
  assert.equal(webhook(STRIPE_ONLY, "stripe").effective_ip_allowlist, undefined);
});

Deno.test("the effective rate limit is the webhook's, else the provider's, else none", () => {
  const text = yaml(
    "providers:",
    "  stripe:",
    "    rate_limit: { requests_per_minute: 60 }",
    "    webhooks:",
    "      own: { path: /a, signing_secret_env: A, rate_limit: { requests_per_minute: 5, burst_limit: 2, per_ip: true } }",
    "      inherits: { path: /b, signing_secret_env: A }",
    "  github:",
    "    webhooks:",
    "      default: { path: /c, signing_secret_env: B }",
  );
  assert.deepEqual(webhook(text, "stripe", "own").effective_rate_limit, {
    requests_per_minute: 5,
    burst_limit: 2,
    per_ip: true,
  });
  assert.deepEqual(webhook(text, "stripe", "inherits").effective_rate_limit, {
    requests_per_minute: 60,
    per_ip: false,
  });
  assert.equal(webhook(text, "github").effective_rate_limit, undefined);
});

// ---------------------------------------------------------------------------------------------
// Problems, each with its YAML path, line and fix

Deno.test("an unknown key is named with its line and a suggestion", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  stripe:",
    "    webhooks:",
    "      default:",
    "        pathh: /webhooks/stripe",
    "        signing_secret_env: STRIPE_WEBHOOK_SECRET",
  ));
  hasProblem(
    problems,
    'providers.stripe.webhooks.default.pathh (line 5): unknown key "pathh" — did you mean "path"?: rename it',
  );
  hasProblem(
    problems,
    'providers.stripe.webhooks.default (line 4): missing "path": add "path:" with a text value',
  );
});

Deno.test("an unknown key with no near match lists the allowed keys", () => {
  const problems = problemsOf(yaml("log:", "  colour: true", ...STRIPE_ONLY.trim().split("\n")));
  hasProblem(
    problems,
    'log.colour (line 2): unknown key "colour": remove it; allowed here: level, format',
  );
});

Deno.test("a webhook key written at provider level says where it belongs", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  stripe:",
    "    path: /webhooks/stripe",
    "    webhooks:",
    "      default: { path: /a, signing_secret_env: A }",
  ));
  hasProblem(
    problems,
    'providers.stripe.path (line 3): key "path" does not belong here: move it into a webhook, under stripe.webhooks.<name>',
  );
});

Deno.test("a value of the wrong type says what was expected and what was found", () => {
  const problems = problemsOf(yaml("server:", "  port: abc", ...STRIPE_ONLY.trim().split("\n")));
  assert.deepEqual(problems, [
    'server.port (line 2): expected a number, got "abc": change the value',
  ]);
});

Deno.test("a bad enum value lists the allowed values", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  acme:",
    "    type: hmac",
    "    webhooks:",
    "      default:",
    "        path: /acme",
    "        signing_secret_env: ACME",
    "        signature_header: X-Sig",
    "        algorithm: md5",
    "        id_header: X-Id",
    "        type_header: X-Type",
  ));
  assert.deepEqual(problems, [
    'providers.acme.webhooks.default.algorithm (line 9): must be one of sha1, sha256, sha512, got "md5": use one of the listed values',
  ]);
});

Deno.test("numbers out of range and empty lists are reported with their bounds", () => {
  const problems = problemsOf(yaml(
    "handlers:",
    "  concurrency: 0",
    "  timeout_ms: 1.5",
    "providers:",
    "  stripe:",
    "    webhooks:",
    "      default:",
    "        path: /webhooks/stripe",
    "        signing_secret_env: S",
    "        events: []",
  ));
  hasProblem(
    problems,
    "handlers.concurrency (line 2): must be greater than 0, got 0: change the number",
  );
  hasProblem(
    problems,
    "handlers.timeout_ms (line 3): expected a whole number, got 1.5: change the value",
  );
  hasProblem(
    problems,
    "providers.stripe.webhooks.default.events (line 10): must list at least 1 entry: add entries or remove the key",
  );
});

Deno.test("a YAML syntax error reports its line and column", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  stripe:",
    "    webhooks: {default: {path: /a}",
    "  github: x",
  ));
  assert.ok(problems.length >= 1);
  assert.match(problems[0], /^YAML syntax \(line \d+, column \d+\): .+: fix the YAML at that spot/);
  const duplicate = problemsOf(yaml("log:", "  level: info", "log:", "  level: warn"));
  assert.match(duplicate[0], /^YAML syntax \(line 3, column 1\): Map keys must be unique/);
});

Deno.test("an empty file says to start from the example", () => {
  assert.match(problemsOf("# nothing\n")[0], /the file is empty: start from the example/);
});

Deno.test("a duplicate path names both webhooks", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  stripe:",
    "    webhooks:",
    "      default:",
    "        path: /hooks",
    "        signing_secret_env: S",
    "  github:",
    "    webhooks:",
    "      default:",
    "        path: /hooks",
    "        signing_secret_env: G",
  ));
  assert.deepEqual(problems, [
    "providers.github.webhooks.default.path (line 10): path /hooks is already used by providers.stripe.webhooks.default.path (line 5): give each webhook its own path",
  ]);
});

Deno.test("an hmac webhook needs signature_header and one of each id and type source", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  acme:",
    "    type: hmac",
    "    webhooks:",
    "      default:",
    "        path: /acme",
    "        signing_secret_env: ACME",
    "        id_header: X-Id",
    "        id_path: /id",
  ));
  assert.deepEqual(problems, [
    'providers.acme.webhooks.default (line 5): missing signature_header (type: hmac): add "signature_header: X-Signature" naming the header that carries the HMAC',
    'providers.acme.webhooks.default (line 5): missing type_header or type_path (type: hmac): add "type_header: X-Event-Type" or "type_path: /type"',
    "providers.acme.webhooks.default.id_path (line 9): id_header and id_path are both set (type: hmac): keep one: the header carrying the event id, or its JSON pointer in the body",
  ]);
});

Deno.test("an hmac-only key on a stripe provider is an error", () => {
  const problems = problemsOf(yaml(
    ...STRIPE_ONLY.trim().split("\n"),
    "        signature_header: Stripe-Signature",
  ));
  assert.deepEqual(problems, [
    'providers.stripe.webhooks.default.signature_header (line 7): "signature_header" only applies to type: hmac providers (this one is type stripe): remove it',
  ]);
});

Deno.test("Stripe API keys are only allowed on Stripe providers", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  github:",
    "    api_key_env: GITHUB_TOKEN",
    "    webhooks:",
    "      default: { path: /gh, signing_secret_env: G }",
  ));
  assert.deepEqual(problems, [
    'providers.github.api_key_env (line 3): "api_key_env" only applies to Stripe providers (this one is type github): remove it',
  ]);
});

Deno.test("a provider whose name is not a type needs a type: key", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  acme:",
    "    webhooks:",
    "      default: { path: /acme, signing_secret_env: A }",
  ));
  assert.deepEqual(problems, [
    'providers.acme (line 2): unknown provider "acme": add "type: hmac" (or stripe|github|slack|standard)',
  ]);
});

Deno.test("verify_signature: false needs allow_unverified: true, and allow_unverified alone is an error", () => {
  const unconfirmed = problemsOf(yaml(
    "providers:",
    "  github:",
    "    webhooks:",
    "      default:",
    "        path: /gh",
    "        verify_signature: false",
  ));
  assert.deepEqual(unconfirmed, [
    'providers.github.webhooks.default.verify_signature (line 6): verify_signature: false accepts forged deliveries: add "allow_unverified: true" next to it to confirm, or remove verify_signature',
  ]);
  const pointless = problemsOf(
    yaml(...STRIPE_ONLY.trim().split("\n"), "        allow_unverified: true"),
  );
  assert.deepEqual(pointless, [
    "providers.stripe.webhooks.default.allow_unverified (line 7): allow_unverified does nothing while signatures are verified: remove it (it only confirms verify_signature: false)",
  ]);
  const confirmed = webhook(
    yaml(
      "providers:",
      "  github:",
      "    webhooks:",
      "      default: { path: /gh, verify_signature: false, allow_unverified: true }",
    ),
    "github",
  );
  assert.equal(confirmed.verify_signature, false);
});

Deno.test("signing_secret_env is required while signatures are verified", () => {
  const problems = problemsOf(
    yaml("providers:", "  slack:", "    webhooks:", "      default: { path: /s }"),
  );
  assert.deepEqual(problems, [
    'providers.slack.webhooks.default (line 4): missing signing_secret_env: add "signing_secret_env: NAME_OF_ENV_VAR" naming the variable that holds the secret',
  ]);
});

Deno.test("/healthz is reserved; /metrics (on the admin listener) is not", () => {
  const problems = problemsOf(yaml(
    "providers:",
    "  github:",
    "    webhooks:",
    "      a: { path: /healthz, signing_secret_env: G }",
    "      b: { path: /metrics, signing_secret_env: G }",
  ));
  assert.deepEqual(problems, [
    "providers.github.webhooks.a.path (line 4): path /healthz is reserved (whd serves it): choose another path, e.g. /webhooks/<name>",
  ]);
});

Deno.test("Stripe events must be event type names or end in *", () => {
  const problems = problemsOf(yaml(
    ...STRIPE_ONLY.trim().split("\n"),
    "        events:",
    "          - invoice.paid",
    "          - customer.*",
    "          - Invoice Paid",
    "          - invoice.*.x",
  ));
  assert.deepEqual(problems, [
    'providers.stripe.webhooks.default.events[2] (line 10): "Invoice Paid" is not a Stripe event type: use names like payment_intent.succeeded, or a prefix ending in * such as customer.subscription.*',
    'providers.stripe.webhooks.default.events[3] (line 11): "invoice.*.x" is not a Stripe event type: use names like payment_intent.succeeded, or a prefix ending in * such as customer.subscription.*',
  ]);
});

Deno.test("several problems across the file are reported together in one ConfigError", () => {
  const text = yaml(
    "server:",
    "  port: 99999",
    "providers:",
    "  stripe:",
    "    webhooks:",
    "      default:",
    "        path: /hooks",
    "        signing_secret_env: S",
    "        tolerance_secondz: 10",
    "  github:",
    "    webhooks:",
    "      default:",
    "        path: /hooks",
    "        signing_secret_env: G",
    "        algorithm: sha256",
  );
  let error: unknown;
  try {
    parseConfig(text, "several.yaml");
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  assert.equal(error.exitCode, 2);
  assert.ok(error instanceof UserError);
  assert.deepEqual(error.problems, [
    "server.port (line 2): must be at most 65535, got 99999: change the number",
    'providers.stripe.webhooks.default.tolerance_secondz (line 9): unknown key "tolerance_secondz" — did you mean "tolerance_seconds"?: rename it',
    // github is valid on its own, so its rule checks still run
    'providers.github.webhooks.default.algorithm (line 15): "algorithm" only applies to type: hmac providers (this one is type github): remove it',
  ]);
  assert.equal(
    error.message,
    `invalid config several.yaml:\n${error.problems.map((p) => `  - ${p}`).join("\n")}`,
  );
});

// ---------------------------------------------------------------------------------------------
// Loading: which file, WHD_PORT

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "whd_config_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function hostConfig(host: string): string {
  return yaml(`server: { host: ${host} }`, ...STRIPE_ONLY.trim().split("\n"));
}

Deno.test("--config wins over WHD_CONFIG, which wins over config/whd.yaml", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "config"));
    await Deno.writeTextFile(join(dir, "config/whd.yaml"), hostConfig("default.local"));
    await Deno.writeTextFile(join(dir, "env.yaml"), hostConfig("env.local"));
    await Deno.writeTextFile(join(dir, "flag.yaml"), hostConfig("flag.local"));
    const env = envOf({ WHD_CONFIG: "env.yaml" });

    const flag = await loadConfig({ path: "flag.yaml", env, cwd: dir });
    assert.equal(flag.server.host, "flag.local");
    assert.equal(flag.source, "flag.yaml");

    const fromEnv = await loadConfig({ env, cwd: dir });
    assert.equal(fromEnv.server.host, "env.local");
    assert.equal(fromEnv.source, "env.yaml");

    const fallback = await loadConfig({ env: envOf({}), cwd: dir });
    assert.equal(fallback.server.host, "default.local");
    assert.equal(fallback.source, "config/whd.yaml");

    const absolute = await loadConfig({ path: join(dir, "flag.yaml"), env, cwd: "/" });
    assert.equal(absolute.server.host, "flag.local");
  });
});

Deno.test("an explicitly named config file that does not exist is an error naming it", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      loadConfig({ path: "nope.yaml", env: envOf({}), cwd: dir }),
      (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.exitCode, 2);
        assert.equal(
          error.message,
          "config file nope.yaml (from --config) does not exist: check the path, or drop --config to use config/whd.yaml",
        );
        return true;
      },
    );
    await assert.rejects(
      loadConfig({ env: envOf({ WHD_CONFIG: "missing/whd.yaml" }), cwd: dir }),
      UserError,
      "config file missing/whd.yaml (from WHD_CONFIG) does not exist: check the path, or unset WHD_CONFIG",
    );
  });
});

Deno.test("without config/whd.yaml the embedded example config is used", async () => {
  await withTempDir(async (dir) => {
    const config = await loadConfig({ env: envOf({}), cwd: dir });
    assert.equal(config.source, EMBEDDED_SOURCE);
    assert.equal(EMBEDDED_SOURCE, "embedded example (config/whd.yaml not found)");
    const fromFile = parseConfig(
      await Deno.readTextFile(join(ROOT, "config/whd.yaml")),
      EMBEDDED_SOURCE,
    );
    assert.deepEqual(config, fromFile);
  });
});

Deno.test("errors in a loaded file name the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "bad.yaml"), yaml("providers: {}"));
    await assert.rejects(
      loadConfig({ path: "bad.yaml", env: envOf({}), cwd: dir }),
      ConfigError,
      "invalid config bad.yaml:\n  - providers (line 1): needs at least one provider",
    );
  });
});

Deno.test("WHD_PORT overrides server.port", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "c.yaml"), hostConfig("h"));
    const config = await loadConfig({ path: "c.yaml", env: envOf({ WHD_PORT: "9090" }), cwd: dir });
    assert.equal(config.server.port, 9090);
    const zero = await loadConfig({ path: "c.yaml", env: envOf({ WHD_PORT: "0" }), cwd: dir });
    assert.equal(zero.server.port, 0);
    const unset = await loadConfig({ path: "c.yaml", env: envOf({}), cwd: dir });
    assert.equal(unset.server.port, 8080);
  });
});

Deno.test("a WHD_PORT that is not a port number is a clear error", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "c.yaml"), hostConfig("h"));
    for (const bad of ["http", "65536", "-1", "80.5", "8080abc"]) {
      await assert.rejects(
        loadConfig({ path: "c.yaml", env: envOf({ WHD_PORT: bad }), cwd: dir }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.deepEqual(error.problems, [
            `WHD_PORT (environment): ${
              JSON.stringify(bad)
            } is not a port number: set it to a whole number from 0 to 65535 (0 picks a free port), or unset it`,
          ]);
          return true;
        },
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Secrets

const TWO_HOOKS = yaml(
  "database:",
  "  url: libsql://db.example.com",
  "  auth_token_env: DB_TOKEN",
  "providers:",
  "  stripe:",
  "    webhooks:",
  "      default: { path: /s, signing_secret_env: STRIPE_WEBHOOK_SECRET }",
  "  github:",
  "    webhooks:",
  "      default: { path: /g, signing_secret_env: GITHUB_WEBHOOK_SECRET }",
  "      open: { path: /o, verify_signature: false, allow_unverified: true }",
);

Deno.test("rotation: a comma-separated env var gives several secrets, empties dropped", () => {
  const config = parseConfig(TWO_HOOKS, "test.yaml");
  const secrets = new Set<string>();
  const resolved = resolveSecrets(
    config,
    envOf({
      STRIPE_WEBHOOK_SECRET: "whsec_new_one_123,,whsec_old_one_456,",
      GITHUB_WEBHOOK_SECRET: "gh-secret-789",
      DB_TOKEN: "db-token-abc",
    }),
    { secrets },
  );
  const [stripe, github] = config.providers;
  assert.deepEqual(secretsFor(resolved, stripe.webhooks[0]), [
    "whsec_new_one_123",
    "whsec_old_one_456",
  ]);
  assert.deepEqual(secretsFor(resolved, github.webhooks[0]), ["gh-secret-789"]);
  assert.deepEqual(secretsFor(resolved, github.webhooks[1]), []);
  assert.deepEqual([...resolved.webhooks.keys()], [
    "stripe/default",
    "github/default",
    "github/open",
  ]);
  assert.equal(resolved.databaseAuthToken, "db-token-abc");
  assert.deepEqual(
    [...secrets].sort(),
    ["db-token-abc", "gh-secret-789", "whsec_new_one_123", "whsec_old_one_456"],
  );
  // Secrets stay out of the Config object.
  assert.doesNotMatch(JSON.stringify(config), /whsec_new_one_123|gh-secret-789|db-token-abc/);
});

Deno.test("every missing or empty secret env var is reported at once with its YAML path", () => {
  const config = parseConfig(TWO_HOOKS, "test.yaml");
  assert.throws(
    () => resolveSecrets(config, envOf({ GITHUB_WEBHOOK_SECRET: ",," })),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.exitCode, 2);
      assert.deepEqual(error.problems, [
        "providers.stripe.webhooks.default.signing_secret_env: environment variable STRIPE_WEBHOOK_SECRET is not set: export it (several secrets may be listed, comma-separated, during rotation)",
        "providers.github.webhooks.default.signing_secret_env: environment variable GITHUB_WEBHOOK_SECRET is empty: export it (several secrets may be listed, comma-separated, during rotation)",
        "database.auth_token_env: environment variable DB_TOKEN is not set: export it (the auth token for libsql://db.example.com)",
      ]);
      return true;
    },
  );
});

Deno.test("a Standard Webhooks secret that is not whsec_<base64> is reported without its value", () => {
  const config = parseConfig(
    yaml(
      "providers:",
      "  standard:",
      "    webhooks:",
      "      default: { path: /s, signing_secret_env: STD }",
    ),
    "test.yaml",
  );
  const valid = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const invalid = "whsec_not base64 at all!!";
  assert.throws(
    () => resolveSecrets(config, envOf({ STD: `${valid},${invalid}` })),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        "providers.standard.webhooks.default.signing_secret_env: secret 2 of 2 in environment variable STD is not a Standard Webhooks secret (whsec_ followed by base64): copy it exactly from the sender's settings",
      ]);
      assert.ok(!error.message.includes(invalid) && !error.message.includes(valid));
      return true;
    },
  );
  new Webhook(valid); // the library agrees the valid one is a secret
  assert.deepEqual(
    secretsFor(resolveSecrets(config, envOf({ STD: valid })), config.providers[0].webhooks[0]),
    [valid],
  );
});

Deno.test("secret values never appear in any error message", async () => {
  const secret = "whsec_TopSecretValue9876543210abcdef";
  // 1. resolving with some secrets present and others missing
  const config = parseConfig(TWO_HOOKS, "test.yaml");
  const secretsSet = new Set<string>();
  const error1 = (() => {
    try {
      resolveSecrets(config, envOf({ STRIPE_WEBHOOK_SECRET: secret }), { secrets: secretsSet });
    } catch (e) {
      return e as ConfigError;
    }
  })();
  assert.ok(error1 instanceof ConfigError);
  assert.ok(!error1.message.includes(secret));
  assert.ok(secretsSet.has(secret), "secrets read before failing are still registered");

  // 2. a secret pasted where an env var name belongs (valid name characters) …
  const pasted = problemsOf(yaml(
    "providers:",
    "  stripe:",
    "    webhooks:",
    "      default:",
    "        path: /s",
    `        signing_secret_env: ${secret}`,
  ));
  assert.deepEqual(pasted, [
    "providers.stripe.webhooks.default.signing_secret_env (line 6): this looks like a secret, not the name of an environment variable: put the secret in an environment variable (e.g. STRIPE_WEBHOOK_SECRET) and name it here",
  ]);
  // … or with characters an env var name cannot have
  const withSymbols = "sk_live_abc+def/ghi=";
  const badName = problemsOf(yaml(
    "providers:",
    "  stripe:",
    `    api_key_env: "${withSymbols}"`,
    "    webhooks:",
    "      default: { path: /s, signing_secret_env: S }",
  ));
  assert.deepEqual(badName, [
    "providers.stripe.api_key_env (line 3): must be the name of an environment variable (letters, digits and _): put the secret itself in an environment variable and name that variable here",
  ]);

  // 3. loading a file with a secret in it plus an invalid WHD_PORT
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "c.yaml"),
      yaml(
        "providers:",
        "  github:",
        "    webhooks:",
        `      default: { path: /g, signing_secret_env: ${secret} }`,
      ),
    );
    const error = await loadConfig({ path: "c.yaml", env: envOf({ WHD_PORT: "x" }), cwd: dir })
      .catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 2);
    assert.ok(!error.message.includes(secret));
  });
});

Deno.test("ip_allowlist and trusted_proxies entries are validated with their path, line and fix", () => {
  const yaml = `server:
  trusted_proxies: [10.0.0.0/8, stripe]
ip_allowlist: [10.0.0.1/8]
providers:
  stripe:
    ip_allowlist: [stripe, "2001:db8::/129"]
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: S
        ip_allowlist: [not-an-address]
`;
  let error: unknown;
  try {
    parseConfig(yaml, "t.yaml");
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  const text = error.problems.join("\n");
  assert.match(text, /server\.trusted_proxies\[1\] \(line 2\): "stripe" is a sender preset/);
  assert.match(text, /ip_allowlist\[0\] \(line 3\): invalid entry: .*10\.0\.0\.0\/8/);
  assert.match(text, /providers\.stripe\.ip_allowlist\[1\] \(line 6\): invalid entry: .*\/129/);
  assert.match(
    text,
    /providers\.stripe\.webhooks\.default\.ip_allowlist\[0\] \(line 11\): invalid entry/,
  );
  assert.equal(error.problems.length, 4);
});
