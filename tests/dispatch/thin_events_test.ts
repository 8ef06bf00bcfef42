/**
 * Stripe thin events (event notifications of Stripe's v2 APIs) through the real daemon: signed
 * with the stripe SDK's own test header, stored under their type and routed to the handler
 * file of that type like snapshot events; the stored payload is what the SDK parses as an
 * event notification (from which a handler fetches the full event and related object).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { startWhd, whd } from "../helpers/whd_process.ts";
import { lines, waitFor, writeFile } from "./_helpers.ts";

const SECRET = "whsec_thin_test_secret";
const TYPE = "v1.billing.meter.error_report_triggered";

Deno.test("a Stripe thin event is routed by its type to handlers/stripe/<type>.ts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_thin_" });
  const env = { STRIPE_WEBHOOK_SECRET: SECRET };
  const out = join(dir, "out");
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
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`,
  );
  await writeFile(
    dir,
    `handlers/stripe/${TYPE}.ts`,
    `export default async (event) => {
      await Deno.writeTextFile(${JSON.stringify(out)},
        event.type + " " + event.payload.related_object.id + "\\n");
    };`,
  );
  const server = await startWhd([], { cwd: dir, env });
  try {
    const thin = {
      id: "evt_test_65R9Ijk8xV",
      object: "v2.core.event",
      type: TYPE,
      livemode: false,
      created: "2026-11-27T08:00:00.000Z",
      related_object: {
        id: "mtr_test_61R9",
        type: "billing.meter",
        url: "/v1/billing/meters/mtr_test_61R9",
      },
    };
    const body = JSON.stringify(thin);
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
    const ran = await waitFor(async () => (await lines(out))[0], 30_000, "the thin handler");
    assert.equal(ran, `${TYPE} mtr_test_61R9`);

    const shown = await whd(["events", "show", thin.id, "--json"], { cwd: dir, env });
    assert.equal(shown.code, 0, shown.stderr);
    const stored = JSON.parse(shown.stdout);
    assert.equal(stored.type, TYPE);
    const notification = stripe.parseEventNotificationWithoutVerification(
      JSON.stringify(stored.payload),
    );
    assert.equal(notification.type, TYPE);
    assert.equal(notification.id, thin.id);
    assert.equal(typeof notification.fetchEvent, "function");
  } finally {
    await server.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});
