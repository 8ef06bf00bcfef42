/**
 * Stripe sanity checks (issue 14), through the real request handler over loopback with a real
 * libSQL inbox and headers signed by Stripe's own library: a webhook's `livemode` refuses
 * events of the other mode with a clear reason; an event rendered with another API version
 * than the provider's `api_version` is stored, counted, and logged once per version.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { parseConfig } from "../src/config/loader.ts";
import { startTestServer, type TestServer } from "./helpers/test_server.ts";
import { seriesValue } from "./helpers/metrics.ts";

const SECRET = "whsec_sanity_9f2Kq7Lm3Np8Rt1Vx";
const PINNED = "2025-01-27.acacia";
const oracle = new Stripe("sk_test_x");

const YAML = `providers:
  stripe:
    api_version: "${PINNED}"
    webhooks:
      live: { path: /live, signing_secret_env: S, livemode: true }
      test: { path: /test, signing_secret_env: S, livemode: false }
      any: { path: /any, signing_secret_env: S }
`;

let n = 0;
function event(livemode: boolean, apiVersion = PINNED) {
  return JSON.stringify({
    id: `evt_sanity_${++n}`,
    object: "event",
    type: "invoice.paid",
    api_version: apiVersion,
    livemode,
    data: { object: {} },
  });
}

async function deliver(server: TestServer, path: string, body: string) {
  const header = await oracle.webhooks.generateTestHeaderStringAsync({
    payload: body,
    secret: SECRET,
  });
  const response = await fetch(server.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body,
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("livemode: a webhook refuses events of the other mode with a clear reason; unset accepts both", async () => {
  const server = await startTestServer(YAML, { S: SECRET });
  try {
    const liveAtTest = await deliver(server, "/test", event(true));
    assert.equal(liveAtTest.status, 400);
    assert.equal(liveAtTest.body.error, "livemode_mismatch");
    assert.match(liveAtTest.body.message, /live-mode event/);
    assert.match(liveAtTest.body.message, /stripe\.test takes only test-mode events/);
    const testAtLive = await deliver(server, "/live", event(false));
    assert.equal(testAtLive.status, 400);
    assert.match(testAtLive.body.message, /test-mode event.*only live-mode events/);

    for (
      const [path, live] of [["/live", true], ["/test", false], ["/any", true], [
        "/any",
        false,
      ]] as const
    ) {
      const answer = await deliver(server, path, event(live));
      assert.deepEqual([path, live, answer], [path, live, {
        status: 200,
        body: { received: true },
      }]);
    }
    const stored = await server.inbox.list({ provider: "stripe", limit: 100 });
    assert.equal(stored.length, 4, "the refused events are not stored");
    assert.equal(
      seriesValue(server.metrics, "whd_rejected_total", { reason: "livemode_mismatch" }) > 0,
      true,
    );
  } finally {
    await server.close();
  }
});

Deno.test("api_version: events of another version are stored, counted per version, and logged once per version", async () => {
  const server = await startTestServer(YAML, { S: SECRET });
  try {
    const older = event(false, "2024-06-20");
    for (
      const body of [
        older,
        older,
        event(true, "2024-06-20"),
        event(false, "2023-10-16"),
        event(false),
      ]
    ) {
      assert.equal((await deliver(server, "/any", body)).status, 200);
    }
    const count = (version: string) =>
      seriesValue(server.metrics, "whd_api_version_mismatch_total", { version });
    assert.deepEqual([count("2024-06-20"), count("2023-10-16"), count(PINNED)], [2, 1, 0]);
    const warnings = server.logLines.filter((l) => l.includes("another API version"));
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[0], /2024-06-20/);
    assert.match(warnings[1], /2023-10-16/);
    assert.equal((await server.inbox.list({ provider: "stripe", limit: 100 })).length, 4);
  } finally {
    await server.close();
  }
});

Deno.test("livemode on a non-Stripe webhook is a config error naming it", () => {
  assert.throws(
    () =>
      parseConfig(
        "providers:\n  github:\n    webhooks:\n      default: { path: /gh, signing_secret_env: G, livemode: true }\n",
        "test.yaml",
      ),
    /providers\.github\.webhooks\.default\.livemode.*only applies to Stripe providers/s,
  );
});
