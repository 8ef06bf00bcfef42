/**
 * `whd send`: the embedded realistic samples, signed and POSTed by the real CLI to a real
 * `whd serve`, stored under the type a provider would give them; fresh ids unless `--id`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { findFixture, FIXTURES, renderFixture } from "../src/providers/fixtures/mod.ts";
import { startWhd, whd } from "./helpers/whd_process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ENV = {
  SEND_STRIPE_SECRET: "whsec_send_test_stripe",
  SEND_GITHUB_SECRET: "send-test-github",
  SEND_SLACK_SECRET: "send-test-slack",
};

const YAML = `database: { url: "file:data/whd.db" }
handlers: { dir: handlers, watch: false }
providers:
  stripe:
    webhooks:
      default: { path: /webhooks/stripe, signing_secret_env: SEND_STRIPE_SECRET }
  github:
    webhooks:
      default: { path: /webhooks/github, signing_secret_env: SEND_GITHUB_SECRET }
  slack:
    webhooks:
      default: { path: /webhooks/slack, signing_secret_env: SEND_SLACK_SECRET }
`;

Deno.test("whd send: every embedded sample is accepted by a real whd serve as its provider sends it", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "whd.yaml"), YAML);
  await Deno.mkdir(join(dir.path, "handlers"));
  const server = await startWhd(["--config", "whd.yaml"], { cwd: dir.path, env: ENV });
  const send = (provider: string, ...args: string[]) =>
    whd([
      "--config",
      "whd.yaml",
      "send",
      "--provider",
      provider,
      "--url",
      `${server.url}/webhooks/${provider}`,
      ...args,
    ], { cwd: dir.path, env: ENV });
  try {
    for (const fixture of FIXTURES) {
      const result = await send(fixture.provider, "--type", fixture.type);
      assert.equal(result.code, 0, `${fixture.type}: ${result.stdout}${result.stderr}`);
      if (fixture.type === "ping") {
        assert.match(result.stdout, /→ 200 .*"zen"|→ 200 /);
      } else if (fixture.type === "url_verification") {
        assert.match(result.stdout, /→ 200 .*challenge/);
      } else {
        assert.match(result.stdout, /→ 200 \{"received":true\}/, fixture.type);
      }
    }
    // Sent twice without --id: two events; with the same --id: the second is a duplicate.
    assert.equal((await send("stripe", "--type", "invoice.paid")).code, 0);
    const first = await send("stripe", "--type", "invoice.paid", "--id", "evt_fixed_1");
    assert.match(first.stdout, /id evt_fixed_1\) → 200 \{"received":true\}/);
    const again = await send("stripe", "--type", "invoice.paid", "--id", "evt_fixed_1");
    assert.match(again.stdout, /→ 200 \{"received":true,"duplicate":true\}/);

    const listed = await whd(["--config", "whd.yaml", "events", "list", "--json"], {
      cwd: dir.path,
    });
    const events: { id: string; provider: string; type: string }[] = JSON.parse(listed.stdout);
    const types = events.map((e) => `${e.provider} ${e.type}`).sort();
    assert.deepEqual(types, [
      "github pull_request.opened",
      "github push",
      "slack message",
      "stripe checkout.session.completed",
      "stripe customer.subscription.updated",
      "stripe invoice.paid",
      "stripe invoice.paid",
      "stripe invoice.paid",
      "stripe payment_intent.succeeded",
    ]);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, "fresh ids");
    assert.ok(events.some((e) => e.id === "evt_fixed_1"));
  } finally {
    await server.stop();
  }
});

Deno.test("whd send --data / --file send your own body; a non-2xx answer is exit 1 with the answer", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "whd.yaml"), YAML);
  await Deno.mkdir(join(dir.path, "handlers"));
  const own = JSON.stringify({ id: "evt_own_1", object: "event", type: "charge.refunded" });
  await Deno.writeTextFile(join(dir.path, "own.json"), own.replace("own_1", "own_2"));
  const server = await startWhd(["--config", "whd.yaml"], { cwd: dir.path, env: ENV });
  const url = `${server.url}/webhooks/stripe`;
  const base = ["--config", "whd.yaml", "send", "--provider", "stripe", "--url", url];
  try {
    const data = await whd([...base, "--data", own], { cwd: dir.path, env: ENV });
    assert.equal(data.code, 0, data.stderr);
    const file = await whd([...base, "--file", "own.json"], { cwd: dir.path, env: ENV });
    assert.equal(file.code, 0, file.stderr);
    const bad = await whd([...base, "--data", '{"object":"event"}'], { cwd: dir.path, env: ENV });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /→ 400 \{"error":"missing_id"/);
    const missing = await whd([...base, "--file", "nope.json"], { cwd: dir.path, env: ENV });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--file nope\.json/);
    const listed = await whd(["--config", "whd.yaml", "events", "list", "--json"], {
      cwd: dir.path,
    });
    assert.deepEqual(JSON.parse(listed.stdout).map((e: { id: string }) => e.id).sort(), [
      "evt_own_1",
      "evt_own_2",
    ]);
  } finally {
    await server.stop();
  }
});

const STRIPE_OBJECTS: Record<string, string> = {
  "payment_intent.succeeded": "payment_intent",
  "checkout.session.completed": "checkout.session",
  "invoice.paid": "invoice",
  "customer.subscription.updated": "subscription",
};

Deno.test("fixtures: shaped like the provider's events, fresh ids and times, shared ids consistent", async () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);
  for (const fixture of FIXTURES) {
    const a = renderFixture(fixture, { now });
    const b = renderFixture(fixture, { now });
    assert.doesNotMatch(a.body, /\{\{/, `${fixture.type}: a token was left unrendered`);
    const json = JSON.parse(a.body);
    if (fixture.provider === "stripe") {
      assert.equal(json.object, "event");
      assert.equal(json.type, fixture.type);
      assert.equal(json.id, a.id);
      assert.match(a.id, /^evt_[A-Za-z0-9]{24}$/);
      assert.equal(json.created, now / 1000);
      assert.equal(json.data.object.object, STRIPE_OBJECTS[fixture.type], fixture.type);
      assert.notEqual(json.data.object.id, JSON.parse(b.body).data.object.id);
      assert.notEqual(a.id, b.id);
    }
    if (fixture.type === "message") {
      assert.equal(json.type, "event_callback");
      assert.equal(json.event_id, a.id);
      assert.match(a.id, /^Ev[A-Z0-9]{10}$/);
      assert.equal(json.team_id, json.authorizations[0].team_id);
      assert.match(json.event.ts, /^\d{10}\.\d{6}$/);
    }
  }
  // --id fixes the id; the Stripe SDK reads the fixture as an event of its type.
  const fixture = findFixture("stripe", "customer.subscription.updated")!;
  const { body } = renderFixture(fixture, { now, id: "evt_given" });
  const secret = "whsec_fixture_test";
  const stripe = new Stripe("sk_test_x");
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret });
  const event = await stripe.webhooks.constructEventAsync(body, header, secret);
  assert.equal(event.id, "evt_given");
  assert.equal(event.type, "customer.subscription.updated");
  if (event.type === "customer.subscription.updated") {
    const sub = event.data.object;
    assert.equal(sub.items.data[0].subscription, sub.id);
    assert.equal(typeof sub.customer, "string");
  }
  assert.equal(findFixture("github", "pull_request")?.type, "pull_request.opened");
  assert.equal(findFixture("slack", "event_callback")?.type, "message");
  assert.equal(findFixture("stripe")?.type, "payment_intent.succeeded");
});
