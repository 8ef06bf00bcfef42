/**
 * The webhook server over real HTTP on loopback, with a real libSQL inbox, for every provider.
 * Deliveries are signed with the providers' own libraries wherever they have one.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { ManualClock } from "../src/clock.ts";
import { startTestServer, type TestServer } from "./helpers/test_server.ts";

const STRIPE_OLD = "whsec_old_rotated_away_0123456789";
const STRIPE_NEW = "whsec_current_stripe_9876543210";
const GITHUB_SECRET = "gh-hook-secret-4b1d9e2f";
const SLACK_SECRET = "slack-signing-secret-8f7e6d5c";
const STANDARD_SECRET = "whsec_" + btoa("standard-webhooks-secret-bytes!!");
const ACME_SECRET = "acme-shared-secret-a1b2c3";
const ALL_SECRETS = [
  STRIPE_OLD,
  STRIPE_NEW,
  GITHUB_SECRET,
  SLACK_SECRET,
  STANDARD_SECRET,
  ACME_SECRET,
];

const ENV = {
  STRIPE_WEBHOOK_SECRET: `${STRIPE_OLD}, ${STRIPE_NEW}`,
  GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  STANDARD_WEBHOOK_SECRET: STANDARD_SECRET,
  ACME_SECRET,
};

const CONFIG = `
server:
  max_body_bytes: 4096
providers:
  stripe:
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [payment_intent.succeeded, customer.subscription.*]
  github:
    webhooks:
      default:
        path: /webhooks/github
        signing_secret_env: GITHUB_WEBHOOK_SECRET
  slack:
    webhooks:
      default:
        path: /webhooks/slack
        signing_secret_env: SLACK_SIGNING_SECRET
  standard:
    webhooks:
      default:
        path: /webhooks/standard
        signing_secret_env: STANDARD_WEBHOOK_SECRET
  acme:
    type: hmac
    webhooks:
      default:
        path: /webhooks/acme
        signing_secret_env: ACME_SECRET
        signature_header: X-Acme-Signature
        algorithm: sha256
        encoding: hex
        signature_prefix: "sha256="
        id_header: X-Acme-Delivery
        type_path: /type
`;

const stripeSdk = new Stripe("sk_test_oracle");
const nowSeconds = () => Math.floor(Date.now() / 1000);

function stripeBody(id: string, type = "payment_intent.succeeded"): string {
  return JSON.stringify({
    id,
    object: "event",
    type,
    created: nowSeconds(),
    data: { object: { id: "pi_1", object: "payment_intent", amount: 2000 } },
  });
}

async function stripeDelivery(
  server: TestServer,
  body: string,
  options: { secret?: string; timestamp?: number } = {},
): Promise<Response> {
  const header = await stripeSdk.webhooks.generateTestHeaderStringAsync({
    payload: body,
    secret: options.secret ?? STRIPE_NEW,
    timestamp: options.timestamp,
  });
  return await fetch(`${server.url}/webhooks/stripe`, {
    method: "POST",
    headers: { "stripe-signature": header, "content-type": "application/json" },
    body,
  });
}

async function withServer(
  run: (server: TestServer) => Promise<void>,
  options?: Parameters<typeof startTestServer>[2],
): Promise<void> {
  const server = await startTestServer(CONFIG, ENV, options);
  try {
    await run(server);
    for (const line of server.logLines) {
      for (const secret of ALL_SECRETS) assert.ok(!line.includes(secret), `secret in log: ${line}`);
    }
  } finally {
    await server.close();
  }
}

async function rowsFor(server: TestServer, provider: string, id: string) {
  return await server.inbox.find(id, provider);
}

Deno.test("stripe: a delivery signed by the stripe SDK is stored and acknowledged", async () => {
  await withServer(async (server) => {
    const response = await stripeDelivery(server, stripeBody("evt_valid_1"));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { received: true });
    const [row] = await rowsFor(server, "stripe", "evt_valid_1");
    assert.equal(row.type, "payment_intent.succeeded");
    assert.equal(row.webhook, "default");
    assert.equal(row.status, "pending");
    assert.equal(row.source, "delivery");
    assert.equal(JSON.parse(row.payload).id, "evt_valid_1");
  });
});

Deno.test("stripe: any secret in the rotation list verifies", async () => {
  await withServer(async (server) => {
    assert.equal(
      (await stripeDelivery(server, stripeBody("evt_old"), { secret: STRIPE_OLD })).status,
      200,
    );
    assert.equal(
      (await stripeDelivery(server, stripeBody("evt_new"), { secret: STRIPE_NEW })).status,
      200,
    );
    assert.equal((await rowsFor(server, "stripe", "evt_old")).length, 1);
    assert.equal((await rowsFor(server, "stripe", "evt_new")).length, 1);
  });
});

Deno.test("stripe: a repeated event id is acknowledged as a duplicate and stored once", async () => {
  await withServer(async (server) => {
    const body = stripeBody("evt_dup");
    const first = await stripeDelivery(server, body);
    const second = await stripeDelivery(server, body);
    assert.deepEqual(await first.json(), { received: true });
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), { received: true, duplicate: true });
    assert.equal((await rowsFor(server, "stripe", "evt_dup")).length, 1);
  });
});

Deno.test("stripe: 200 concurrent deliveries of one event id store exactly one row", async () => {
  await withServer(async (server) => {
    const body = stripeBody("evt_storm");
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => stripeDelivery(server, body)),
    );
    const bodies = await Promise.all(responses.map((r) => r.json()));
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(bodies.filter((b) => !b.duplicate).length, 1);
    assert.equal(bodies.filter((b) => b.duplicate).length, 199);
    assert.equal((await rowsFor(server, "stripe", "evt_storm")).length, 1);
    assert.equal((await server.inbox.counts()).pending, 1);
  });
});

Deno.test("stripe: bad, missing and stale signatures get 400 and store nothing", async () => {
  await withServer(async (server) => {
    const body = stripeBody("evt_bad");
    const wrongSecret = await stripeDelivery(server, body, {
      secret: "whsec_not_the_secret_at_all",
    });
    assert.equal(wrongSecret.status, 400);
    assert.equal((await wrongSecret.json()).error, "bad_signature");

    const missing = await fetch(`${server.url}/webhooks/stripe`, { method: "POST", body });
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error, "missing_signature");

    const stale = await stripeDelivery(server, body, { timestamp: nowSeconds() - 301 });
    assert.equal(stale.status, 400);
    assert.equal((await stale.json()).error, "stale_timestamp");

    const header = await stripeSdk.webhooks.generateTestHeaderStringAsync({
      payload: body,
      secret: STRIPE_NEW,
    });
    const tampered = await fetch(`${server.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "stripe-signature": header },
      body: body.replace("2000", "1"),
    });
    assert.equal(tampered.status, 400);
    await tampered.body?.cancel();

    assert.equal((await rowsFor(server, "stripe", "evt_bad")).length, 0);
    assert.equal((await server.inbox.list()).length, 0);
  });
});

Deno.test("a correctly signed body that is not JSON gets 400 invalid_json", async () => {
  await withServer(async (server) => {
    const response = await stripeDelivery(server, "this is not json");
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error, "invalid_json");
    assert.equal((await server.inbox.list()).length, 0);
  });
});

Deno.test("an event type outside the webhook's events list is acknowledged and recorded as ignored", async () => {
  await withServer(async (server) => {
    const ignored = await stripeDelivery(server, stripeBody("evt_ign", "charge.refunded"));
    assert.equal(ignored.status, 200);
    assert.deepEqual(await ignored.json(), { received: true, ignored: true });
    assert.equal((await rowsFor(server, "stripe", "evt_ign"))[0].status, "ignored");

    const family = await stripeDelivery(
      server,
      stripeBody("evt_fam", "customer.subscription.updated"),
    );
    assert.deepEqual(await family.json(), { received: true });
    assert.equal((await rowsFor(server, "stripe", "evt_fam"))[0].status, "pending");
  });
});

Deno.test("routing: unknown path 404, wrong method 405, oversized body 413 — nothing stored", async () => {
  await withServer(async (server) => {
    const unknown = await fetch(`${server.url}/webhooks/nope`, { method: "POST", body: "{}" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();

    const get = await fetch(`${server.url}/webhooks/stripe`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.body?.cancel();

    const big = stripeBody("evt_big").replace('"amount":2000', `"pad":"${"x".repeat(5000)}"`);
    const tooLarge = await stripeDelivery(server, big);
    assert.equal(tooLarge.status, 413);
    await tooLarge.body?.cancel();

    // A chunked body without Content-Length is cut off at the limit too.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const chunked = await fetch(`${server.url}/webhooks/stripe`, { method: "POST", body: stream });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();

    assert.equal((await server.inbox.list()).length, 0);
  });
});

Deno.test("a store failure answers 503 so the provider retries, and acknowledges nothing", async () => {
  await withServer(async (server) => {
    server.inbox.close();
    const response = await stripeDelivery(server, stripeBody("evt_down"));
    assert.equal(response.status, 503);
    assert.equal((await response.json()).error, "store_unavailable");
  });
});

Deno.test("github: a delivery signed by @octokit/webhooks-methods is stored with its action", async () => {
  await withServer(async (server) => {
    const body = JSON.stringify({ action: "opened", number: 7, repository: { full_name: "o/r" } });
    const post = async (signature: string, delivery: string) =>
      await fetch(`${server.url}/webhooks/github`, {
        method: "POST",
        headers: {
          "x-hub-signature-256": signature,
          "x-github-event": "pull_request",
          "x-github-delivery": delivery,
          "content-type": "application/json",
        },
        body,
      });
    const ok = await post(await octokitSign(GITHUB_SECRET, body), "d-1");
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const [row] = await rowsFor(server, "github", "d-1");
    assert.equal(row.type, "pull_request.opened");

    const bad = await post(await octokitSign("another-secret", body), "d-2");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    assert.equal((await rowsFor(server, "github", "d-2")).length, 0);

    const ping = await fetch(`${server.url}/webhooks/github`, {
      method: "POST",
      headers: {
        "x-hub-signature-256": await octokitSign(GITHUB_SECRET, '{"zen":"hi"}'),
        "x-github-event": "ping",
        "x-github-delivery": "d-ping",
      },
      body: '{"zen":"hi"}',
    });
    assert.equal(ping.status, 200);
    await ping.body?.cancel();
  });
});

function slackHeaders(body: string, timestamp = nowSeconds(), secret = SLACK_SECRET) {
  const signature = "v0=" +
    createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex");
  return {
    "x-slack-signature": signature,
    "x-slack-request-timestamp": String(timestamp),
    "content-type": "application/json",
  };
}

Deno.test("slack: url_verification is answered with its challenge; events are stored", async () => {
  await withServer(async (server) => {
    const challenge = JSON.stringify({ type: "url_verification", challenge: "c-123", token: "t" });
    const answer = await fetch(`${server.url}/webhooks/slack`, {
      method: "POST",
      headers: slackHeaders(challenge),
      body: challenge,
    });
    assert.equal(answer.status, 200);
    assert.equal((await answer.json()).challenge, "c-123");

    const event = JSON.stringify({
      type: "event_callback",
      event_id: "Ev123",
      event: { type: "app_mention", text: "hi" },
    });
    const ok = await fetch(`${server.url}/webhooks/slack`, {
      method: "POST",
      headers: slackHeaders(event),
      body: event,
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.equal((await rowsFor(server, "slack", "Ev123"))[0].type, "app_mention");

    const stale = await fetch(`${server.url}/webhooks/slack`, {
      method: "POST",
      headers: slackHeaders(event.replace("Ev123", "Ev124"), nowSeconds() - 600),
      body: event.replace("Ev123", "Ev124"),
    });
    assert.equal(stale.status, 400);
    assert.equal((await stale.json()).error, "stale_timestamp");
  });
});

Deno.test("standard webhooks: a delivery signed by the standardwebhooks library is stored", async () => {
  await withServer(async (server) => {
    const body = JSON.stringify({
      type: "invoice.paid",
      timestamp: new Date().toISOString(),
      data: {},
    });
    const signer = new StandardWebhook(STANDARD_SECRET);
    const at = new Date();
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signer.sign("msg_1", at, body),
    };
    const ok = await fetch(`${server.url}/webhooks/standard`, { method: "POST", headers, body });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.equal((await rowsFor(server, "standard", "msg_1"))[0].type, "invoice.paid");

    const forged = await fetch(`${server.url}/webhooks/standard`, {
      method: "POST",
      headers: { ...headers, "webhook-id": "msg_2" },
      body,
    });
    assert.equal(forged.status, 400);
    await forged.body?.cancel();
    assert.equal((await rowsFor(server, "standard", "msg_2")).length, 0);
  });
});

Deno.test("hmac: a configured scheme verifies, takes its id from a header and its type from the body", async () => {
  await withServer(async (server) => {
    const body = JSON.stringify({ type: "order.created", order: 42 });
    const signature = "sha256=" + createHmac("sha256", ACME_SECRET).update(body).digest("hex");
    const post = async (headers: Record<string, string>) =>
      await fetch(`${server.url}/webhooks/acme`, { method: "POST", headers, body });
    const ok = await post({ "x-acme-signature": signature, "x-acme-delivery": "a-1" });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.equal((await rowsFor(server, "acme", "a-1"))[0].type, "order.created");

    const noId = await post({ "x-acme-signature": signature });
    assert.equal(noId.status, 400);
    assert.equal((await noId.json()).error, "missing_id");

    const bad = await post({
      "x-acme-signature": "sha256=" + "0".repeat(64),
      "x-acme-delivery": "a-2",
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    assert.equal((await rowsFor(server, "acme", "a-2")).length, 0);
  });
});

Deno.test("rejections name the problem but never echo a secret or signature", async () => {
  await withServer(async (server) => {
    const body = stripeBody("evt_leak");
    const header = await stripeSdk.webhooks.generateTestHeaderStringAsync({
      payload: body,
      secret: "whsec_attacker_guess_000000",
    });
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "stripe-signature": header },
      body,
    });
    const text = await response.text();
    assert.equal(response.status, 400);
    for (const secret of ALL_SECRETS) assert.ok(!text.includes(secret));
    assert.ok(!text.includes(header.split("v1=")[1]));
  });
});

Deno.test("the timestamp tolerance uses the injected clock", async () => {
  const clock = new ManualClock(Date.now());
  await withServer(async (server) => {
    const body = stripeBody("evt_clock");
    const header = await stripeSdk.webhooks.generateTestHeaderStringAsync({
      payload: body,
      secret: STRIPE_NEW,
    });
    clock.advance(10 * 60 * 1000);
    const late = await fetch(`${server.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "stripe-signature": header },
      body,
    });
    assert.equal(late.status, 400);
    assert.equal((await late.json()).error, "stale_timestamp");
  }, { clock });
});

Deno.test("GET /healthz answers ok, /metrics is not public, and the counters count", async () => {
  await withServer(async (server) => {
    await (await stripeDelivery(server, stripeBody("evt_m1"))).body?.cancel();
    await (await stripeDelivery(server, stripeBody("evt_m1"))).body?.cancel();
    const health = await fetch(`${server.url}/healthz`);
    assert.deepEqual(await health.json(), { ok: true });
    const publicMetrics = await fetch(`${server.url}/metrics`);
    assert.equal(publicMetrics.status, 404);
    await publicMetrics.body?.cancel();
    const metrics = server.metrics.render();
    assert.match(
      metrics,
      /whd_events_total\{provider="stripe",result="stored",webhook="default"\} 1/,
    );
    assert.match(
      metrics,
      /whd_events_total\{provider="stripe",result="duplicate",webhook="default"\} 1/,
    );
  });
});
