/**
 * Stripe thin events (event notifications of Stripe's v2 APIs) through the real daemon: a
 * notification signed the way Stripe signs them (the stripe SDK's own test header over the
 * body) is stored under its type and routed to `handlers/stripe/<type>.ts`; that handler
 * fetches the full event (`GET /v2/core/events/{id}`) and its related object (the
 * `related_object.url`) through `ctx.stripe`, which whd points at the provider's `api_base`
 * (a fake Stripe API on loopback here).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { startFakeStripe, thinNotification } from "../fakes/stripe_api.ts";
import { startWhd, whd } from "../helpers/whd_process.ts";
import { waitFor, writeFile } from "./_helpers.ts";

const SECRET = "whsec_thin_test_secret";
const KEY = "sk_test_thin_key";
const TYPE = "v1.billing.meter.error_report_triggered";

Deno.test("a Stripe thin event routes by type to a handler that fetches the event and its object through ctx.stripe", async () => {
  const fake = await startFakeStripe({ keys: [KEY] });
  const dir = await Deno.makeTempDir({ prefix: "whd_thin_" });
  const env = { STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_SECRET_KEY: KEY };
  const out = join(dir, "out.json");
  await writeFile(
    dir,
    "config/whd.yaml",
    `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
  dir: handlers
log:
  format: json
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: ${fake.url}
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`,
  );
  // A snapshot-type handler too: the thin event must not land on _default or a pattern.
  await writeFile(
    dir,
    "handlers/stripe/_default.ts",
    `export default () => { throw new Error("wrong handler"); };`,
  );
  await writeFile(
    dir,
    `handlers/stripe/${TYPE}.ts`,
    `export default async (event, ctx) => {
      const notification = ctx.stripe.parseEventNotificationWithoutVerification(
        JSON.stringify(event.payload),
      );
      const full = await notification.fetchEvent();
      const meter = await notification.fetchRelatedObject();
      const retrieved = await ctx.stripe.v2.core.events.retrieve(event.id);
      await Deno.writeTextFile(${JSON.stringify(out)}, JSON.stringify({
        type: event.type, attempt: ctx.attempt, full, meter, retrieved: retrieved.id,
      }));
    };`,
  );
  const meterPath = "/v1/billing/meters/mtr_test_61R9";
  fake.addObject(meterPath, {
    id: "mtr_test_61R9",
    object: "billing.meter",
    display_name: "API calls",
    event_name: "api_call",
    status: "active",
  });
  const event = fake.addV2Event({
    id: "evt_test_65R9Ijk8xV",
    type: TYPE,
    created: "2026-11-27T08:00:00.000Z",
    related_object: { id: "mtr_test_61R9", type: "billing.meter", url: meterPath },
    data: {
      developer_message_summary: "2 meter events had no customer",
      reason: { error_count: 2, error_types: [] },
      validation_start: "2026-11-27T07:00:00.000Z",
      validation_end: "2026-11-27T08:00:00.000Z",
    },
  });
  const server = await startWhd([], { cwd: dir, env });
  try {
    const body = JSON.stringify(thinNotification(event));
    assert.ok(!("data" in JSON.parse(body)), "a thin notification carries no data");
    const stripe = new Stripe("sk_test_unused");
    const signature = await stripe.webhooks.generateTestHeaderStringAsync({
      payload: body,
      secret: SECRET,
    });
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "stripe-signature": signature, "content-type": "application/json" },
      body,
    });
    assert.equal(response.status, 200, await response.text());

    const got = await waitFor(
      async () => {
        try {
          return JSON.parse(await Deno.readTextFile(out));
        } catch {
          return undefined;
        }
      },
      30_000,
      "the thin event handler",
    );
    assert.equal(got.type, TYPE);
    assert.equal(got.attempt, 1);
    assert.equal(got.full.id, event.id);
    assert.equal(got.full.object, "v2.core.event");
    assert.deepEqual(got.full.data, event.data, "the full event's data came from the API");
    assert.deepEqual(got.full.related_object, event.related_object);
    assert.equal(got.meter.id, "mtr_test_61R9");
    assert.equal(got.meter.display_name, "API calls");
    assert.equal(got.retrieved, event.id);

    // The handler's calls reached the API with the provider's key.
    const calls = fake.state.requests.map((r) => `${r.method} ${r.path} ${r.authorization}`);
    assert.deepEqual(calls, [
      `GET /v2/core/events/${event.id} Bearer ${KEY}`,
      `GET ${meterPath} Bearer ${KEY}`,
      `GET /v2/core/events/${event.id} Bearer ${KEY}`,
    ]);

    const shown = await whd(["events", "show", event.id, "--json"], { cwd: dir, env });
    assert.equal(shown.code, 0, shown.stderr);
    const stored = JSON.parse(shown.stdout);
    assert.equal(stored.type, TYPE);
    assert.equal(stored.status, "done");
    assert.deepEqual(stored.payload, thinNotification(event));
  } finally {
    await server.stop("SIGTERM");
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
