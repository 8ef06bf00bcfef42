import assert from "node:assert/strict";
import { join } from "node:path";
import { register as registerBackfill } from "../src/cli/backfill.ts";
import { register } from "../src/cli/endpoints.ts";
import { parseConfig } from "../src/config/loader.ts";
import { UserError } from "../src/errors.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { planSync } from "../src/jobs/endpoint_sync.ts";
import { toEnabledEvents } from "../src/providers/stripe_endpoints.ts";
import { STRIPE_EVENT_TYPES } from "../src/providers/stripe_event_types.ts";
import { runCli } from "./fakes/cli_harness.ts";
import { type FakeStripe, startFakeStripe } from "./fakes/stripe_api.ts";

const KEY = "sk_test_endpoints_0123456789";
const PUBLIC = "https://hooks.example.com";
const SUBSCRIPTION_TYPES = STRIPE_EVENT_TYPES.filter((t) => t.startsWith("customer.subscription."));

function yaml(apiBase: string, options: { publicUrl?: boolean; webhooks?: string } = {}) {
  const webhooks = options.webhooks ?? `
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [invoice.paid, customer.subscription.*]`;
  return `
server:
  port: 0
${options.publicUrl === false ? "" : `  public_url: ${PUBLIC}`}
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: ${apiBase}
    api_version: "2024-06-20"
    webhooks:${webhooks}
`;
}

async function setup(options: { publicUrl?: boolean; webhooks?: string } = {}) {
  const fake = await startFakeStripe({ keys: [KEY] });
  const dir = await Deno.makeTempDir({ prefix: "whd_endpoints_" });
  const config = parseConfig(yaml(fake.url, options), "test.yaml");
  const run = (...args: string[]) =>
    runCli(register, ["endpoints", ...args], { config, env: { STRIPE_SECRET_KEY: KEY } });
  return {
    fake,
    dir,
    config,
    run,
    async [Symbol.asyncDispose]() {
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function writes(fake: FakeStripe) {
  return fake.state.requests.filter((r) => r.method !== "GET");
}

Deno.test("endpoints create registers public_url + path, the expanded events and the pinned api_version", async () => {
  await using t = await setup();
  const secretFile = join(t.dir, "whd.env");
  const run = await t.run("create", "--secret-file", secretFile);
  assert.equal(run.error, undefined);

  assert.equal(t.fake.state.endpoints.length, 1);
  const [ep] = t.fake.state.endpoints;
  assert.equal(ep.url, `${PUBLIC}/webhooks/stripe`);
  assert.deepEqual(ep.enabled_events, ["invoice.paid", ...SUBSCRIPTION_TYPES].sort());
  assert.ok(SUBSCRIPTION_TYPES.length >= 5);
  assert.equal(ep.api_version, "2024-06-20");
  assert.equal(ep.metadata.whd_webhook, "stripe/default");
  assert.match(run.out, new RegExp(`created ${ep.id} for stripe/default`));
});

Deno.test("endpoints create writes the signing secret once to a 0600 file as NAME=value and never prints or logs it", async () => {
  await using t = await setup();
  const secretFile = join(t.dir, "whd.env");
  await Deno.writeTextFile(secretFile, "OTHER=keep me\nSTRIPE_WEBHOOK_SECRET=whsec_old\n");
  await Deno.chmod(secretFile, 0o644);

  const run = await t.run("create", "--secret-file", secretFile);
  assert.equal(run.error, undefined);
  const [ep] = t.fake.state.endpoints;
  assert.equal(
    await Deno.readTextFile(secretFile),
    `OTHER=keep me\nSTRIPE_WEBHOOK_SECRET=${ep.secret}\n`,
  );
  assert.equal((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
  assert.equal(run.out.includes(ep.secret), false);
  assert.equal(run.logs.join("\n").includes(ep.secret), false);
  assert.match(run.out, /written to .*whd\.env as STRIPE_WEBHOOK_SECRET \(mode 0600\)/);
  // Stripe returns the secret only on create: reading it back gives none.
  const creates = writes(t.fake).filter((r) => r.path === "/v1/webhook_endpoints");
  assert.equal(creates.length, 1);
  const got = await t.run("get", ep.id, "--json");
  assert.equal(JSON.parse(got.out).secret, undefined);
  const listed = await t.run("list", "--json");
  assert.equal(listed.out.includes(ep.secret), false);
});

Deno.test("endpoints create that cannot write --secret-file names the created endpoint and how to recover, without the secret", async () => {
  await using t = await setup();
  const run = await t.run("create", "--secret-file", join(t.dir, "missing", "whd.env"));
  const [ep] = t.fake.state.endpoints;
  assert.ok(run.error instanceof UserError);
  assert.match(
    run.error.message,
    new RegExp(
      `^created ${ep.id} but could not keep its signing secret \\(cannot write --secret-file `,
    ),
  );
  assert.match(run.error.message, new RegExp(`whd endpoints delete ${ep.id} --yes`));
  assert.equal(run.error.message.includes("\n"), false);
  assert.equal(run.error.message.includes(ep.secret), false);
  assert.equal(run.out.includes(ep.secret), false);
  assert.equal(run.logs.join("\n").includes(ep.secret), false);
});

Deno.test("endpoints create prints the secret only with --show-secret, and refuses without a place for it", async () => {
  await using t = await setup();
  const refused = await t.run("create");
  assert.ok(refused.error instanceof UserError);
  assert.match(refused.error.message, /--secret-file PATH .* or --show-secret/);
  assert.equal(writes(t.fake).length, 0, "nothing was created");

  const shown = await t.run("create", "--show-secret");
  assert.equal(shown.error, undefined);
  const [ep] = t.fake.state.endpoints;
  assert.match(shown.out, new RegExp(`^STRIPE_WEBHOOK_SECRET=${ep.secret}$`, "m"));
  assert.equal(shown.logs.join("\n").includes(ep.secret), false);
});

Deno.test("endpoints create takes --url when there is no public_url, and says how to fix it otherwise", async () => {
  await using t = await setup({ publicUrl: false });
  const missing = await t.run("create", "--show-secret");
  assert.ok(missing.error instanceof UserError);
  assert.match(missing.error.message, /set server\.public_url .* or pass --url/);
  const ok = await t.run("create", "--show-secret", "--url", "https://other.example/hook");
  assert.equal(ok.error, undefined);
  assert.equal(t.fake.state.endpoints[0].url, "https://other.example/hook");
});

const THREE_WEBHOOKS = `
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [invoice.paid]
      billing:
        path: /webhooks/billing
        signing_secret_env: STRIPE_BILLING_SECRET
        events: [customer.subscription.*]
      connect:
        path: /webhooks/connect
        signing_secret_env: STRIPE_CONNECT_SECRET`;

async function driftedAccount() {
  const t = await setup({ webhooks: THREE_WEBHOOKS });
  // default: missing. billing: right url, drifted events. connect: tagged, drifted url.
  const billing = t.fake.addEndpoint({
    url: `${PUBLIC}/webhooks/billing`,
    enabled_events: ["customer.subscription.created"],
  });
  const connect = t.fake.addEndpoint({
    url: "https://old.example.com/webhooks/connect",
    enabled_events: ["*"],
    metadata: { whd_webhook: "stripe/connect" },
  });
  const extra = t.fake.addEndpoint({
    url: "https://zapier.example/x",
    enabled_events: ["charge.failed"],
  });
  return { t, billing, connect, extra };
}

Deno.test("endpoints sync prints the plan with drift and changes nothing without --yes", async () => {
  const { t, billing, connect, extra } = await driftedAccount();
  await using _ = t;
  const before = structuredClone(t.fake.state.endpoints);
  const run = await t.run("sync");
  assert.equal(run.error, undefined);
  assert.equal(writes(t.fake).length, 0);
  assert.deepEqual(t.fake.state.endpoints, before);
  const lines = run.out.split("\n");
  assert.ok(lines.includes(`+ create  default: ${PUBLIC}/webhooks/stripe [invoice.paid]`), run.out);
  assert.ok(lines.includes(`~ update  billing: ${billing.id}`));
  assert.ok(lines.some((l) => l.startsWith("    events +: customer.subscription.deleted")));
  assert.ok(lines.includes(`~ update  connect: ${connect.id}`));
  assert.ok(
    lines.includes(
      `    url: https://old.example.com/webhooks/connect → ${PUBLIC}/webhooks/connect`,
    ),
  );
  assert.ok(
    lines.includes(
      `? extra   ${extra.id} https://zapier.example/x (not in config; --prune deletes it)`,
    ),
  );
  assert.match(run.out, /plan only: nothing was changed; run again with --yes to apply/);

  const json = await t.run("sync", "--json");
  const plan = JSON.parse(json.out);
  assert.equal(plan.applied, false);
  assert.deepEqual(plan.plan.map((a: { kind: string }) => a.kind), [
    "create",
    "update",
    "update",
    "extra",
  ]);
});

Deno.test("endpoints sync --yes creates the missing, updates the drifted, keeps extras; --prune deletes them", async () => {
  const { t, billing, connect, extra } = await driftedAccount();
  await using _ = t;
  const secretFile = join(t.dir, "secrets.env");

  const refused = await t.run("sync", "--yes");
  assert.ok(refused.error instanceof UserError, "creating needs --secret-file or --show-secret");
  assert.equal(writes(t.fake).length, 0);

  const applied = await t.run("sync", "--yes", "--secret-file", secretFile);
  assert.equal(applied.error, undefined);
  assert.match(applied.out, /applied: 1 created, 2 updated, 0 deleted/);
  const byId = new Map(t.fake.state.endpoints.map((e) => [e.id, e]));
  assert.deepEqual(byId.get(billing.id)!.enabled_events, SUBSCRIPTION_TYPES);
  assert.equal(byId.get(connect.id)!.url, `${PUBLIC}/webhooks/connect`);
  assert.ok(byId.has(extra.id), "an extra endpoint is only listed without --prune");
  const created = t.fake.state.endpoints.find((e) => e.url === `${PUBLIC}/webhooks/stripe`)!;
  assert.deepEqual(created.enabled_events, ["invoice.paid"]);
  assert.equal(await Deno.readTextFile(secretFile), `STRIPE_WEBHOOK_SECRET=${created.secret}\n`);
  assert.equal((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
  assert.equal(applied.out.includes(created.secret), false);

  const again = await t.run("sync");
  assert.match(again.out, /^= in sync default: /m);
  assert.match(again.out, /\? extra {3}we_/);

  const pruned = await t.run("sync", "--yes", "--prune");
  assert.equal(pruned.error, undefined);
  assert.match(pruned.out, new RegExp(`- delete  ${extra.id}`));
  assert.equal(t.fake.state.endpoints.some((e) => e.id === extra.id), false);
  assert.equal(t.fake.state.endpoints.length, 3);

  const done = await t.run("sync", "--yes", "--prune");
  assert.match(done.out, /in sync: nothing to do/);
});

Deno.test("endpoints delete refuses without --yes and deletes with it", async () => {
  await using t = await setup();
  const ep = t.fake.addEndpoint({ url: "https://x.example/a", enabled_events: ["*"] });
  const refused = await t.run("delete", ep.id);
  assert.ok(refused.error instanceof UserError);
  assert.match(refused.error.message, /refusing to delete .* without --yes/);
  assert.equal(t.fake.state.requests.length, 0, "not even a request was made");
  const deleted = await t.run("delete", ep.id, "--yes");
  assert.equal(deleted.error, undefined);
  assert.equal(t.fake.state.endpoints.length, 0);
});

Deno.test("endpoints update changes url, events, description and disabled", async () => {
  await using t = await setup();
  const ep = t.fake.addEndpoint({ url: "https://x.example/a", enabled_events: ["*"] });
  const none = await t.run("update", ep.id);
  assert.ok(none.error instanceof UserError);
  const run = await t.run(
    "update",
    ep.id,
    "--url",
    "https://x.example/b",
    "--events",
    "customer.subscription.*,charge.failed",
    "--description",
    "billing",
    "--disable",
  );
  assert.equal(run.error, undefined);
  const [after] = t.fake.state.endpoints;
  assert.equal(after.url, "https://x.example/b");
  assert.deepEqual(after.enabled_events, ["charge.failed", ...SUBSCRIPTION_TYPES].sort());
  assert.equal(after.description, "billing");
  assert.equal(after.status, "disabled");
  await t.run("update", ep.id, "--enable");
  assert.equal(t.fake.state.endpoints[0].status, "enabled");
});

Deno.test("endpoints list with a rejected key is one line naming the env var, without the key", async () => {
  await using t = await setup();
  const run = await runCli(register, ["endpoints", "list"], {
    config: t.config,
    env: { STRIPE_SECRET_KEY: "sk_test_nope_1234567" },
  });
  assert.ok(run.error instanceof UserError);
  assert.match(run.error.message, /^STRIPE_SECRET_KEY was rejected by Stripe \(401\)/);
  assert.equal(run.error.message.includes("\n"), false);
  assert.equal(run.error.message.includes("4567"), false);
});

Deno.test("enabled_events: * and no list mean all, families expand, unknown families are refused", () => {
  assert.deepEqual(toEnabledEvents(undefined), ["*"]);
  assert.deepEqual(toEnabledEvents(["invoice.paid", "*"]), ["*"]);
  assert.deepEqual(toEnabledEvents(["customer.subscription.*"]), SUBSCRIPTION_TYPES);
  assert.deepEqual(toEnabledEvents(["brand_new.type"]), ["brand_new.type"]);
  assert.throws(
    () => toEnabledEvents(["nonexistent.*"], "providers.stripe.webhooks.default.events"),
    (e: unknown) =>
      e instanceof UserError &&
      /providers\.stripe\.webhooks\.default\.events: "nonexistent\.\*" matches no known Stripe event type/
        .test(e.message),
  );
});

Deno.test("sync matches an endpoint by url when it has no whd metadata", () => {
  const provider = parseConfig(yaml("http://127.0.0.1:1"), "t").providers[0];
  const desired = [{
    webhook: "default",
    url: `${PUBLIC}/webhooks/stripe`,
    enabledEvents: ["invoice.paid"],
    description: "d",
    secretEnv: "S",
    tag: "stripe/default",
  }];
  const existing = [{
    id: "we_1",
    url: `${PUBLIC}/webhooks/stripe`,
    enabled_events: ["invoice.paid"],
    metadata: {},
    api_version: "2023-10-16",
    status: "enabled",
  }] as unknown as Parameters<typeof planSync>[2];
  const plan = planSync(provider, desired, existing);
  assert.deepEqual(plan.actions.map((a) => a.kind), ["in_sync"]);
  assert.equal(plan.warnings.length, 1);
  assert.match(plan.warnings[0], /API version 2023-10-16, config pins 2024-06-20/);
});

Deno.test("endpoints sync --show-secret prints new secrets after the summary, and --json keeps them out unless asked", async () => {
  await using t = await setup();
  const plain = await t.run("sync", "--yes", "--json", "--secret-file", join(t.dir, "s.env"));
  assert.equal(plain.error, undefined);
  const [ep] = t.fake.state.endpoints;
  assert.equal(plain.out.includes(ep.secret), false);
  assert.equal(JSON.parse(plain.out).result.created[0].secretEnv, "STRIPE_WEBHOOK_SECRET");

  await t.run("delete", ep.id, "--yes");
  const shown = await t.run("sync", "--yes", "--show-secret");
  assert.equal(shown.error, undefined);
  const [again] = t.fake.state.endpoints;
  assert.match(
    shown.out,
    new RegExp(`applied: 1 created.*\\nSTRIPE_WEBHOOK_SECRET=${again.secret}\\n$`),
  );
  assert.equal(shown.logs.join("\n").includes(again.secret), false);
});

Deno.test("an api_base that does not answer like Stripe is one line naming it, not 'Stripe refused'", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("<html>not found</html>", { status: 404 }),
  );
  try {
    const apiBase = `http://127.0.0.1:${server.addr.port}`;
    const config = parseConfig(yaml(apiBase), "test.yaml");
    const run = await runCli(register, ["endpoints", "list"], {
      config,
      env: { STRIPE_SECRET_KEY: KEY },
    });
    assert.ok(run.error instanceof UserError);
    assert.equal(
      run.error.message,
      `the server at ${apiBase} did not answer like the Stripe API while listing webhook endpoints: ` +
        "check providers.stripe.api_base (https://api.stripe.com, or a Stripe mock)",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("an api_base that answers JSON that is not a Stripe list is the same one line, for endpoints and backfill", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ hello: "not stripe" }),
  );
  try {
    const apiBase = `http://127.0.0.1:${server.addr.port}`;
    const config = parseConfig(yaml(apiBase), "test.yaml");
    const env = { STRIPE_SECRET_KEY: KEY };
    const endpoints = await runCli(register, ["endpoints", "list"], { config, env });
    const dir = await Deno.makeTempDir();
    const backfill = await runCli(registerBackfill, ["backfill", "--hours", "1"], {
      config,
      env,
      inbox: () => openInbox({ url: `file:${dir}/whd.db` }),
    });
    await Deno.remove(dir, { recursive: true });
    for (
      const [run, action] of [[endpoints, "listing webhook endpoints"], [
        backfill,
        "listing events (page 1)",
      ]] as const
    ) {
      assert.ok(run.error instanceof UserError, String(run.error));
      assert.equal(
        run.error.message,
        `the server at ${apiBase} did not answer like the Stripe API while ${action}: ` +
          "check providers.stripe.api_base (https://api.stripe.com, or a Stripe mock)",
      );
    }
  } finally {
    await server.shutdown();
  }
});
