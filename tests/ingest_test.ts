/**
 * `createIngest`, the one way a verified event enters the inbox (server and backfill call it),
 * against a real libSQL inbox: the events filter, dedupe, the counters and the wake-up.
 */
import assert from "node:assert/strict";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import type { EventKey, Inbox } from "../src/inbox/types.ts";
import { createIngest, type IngestInput } from "../src/ingest.ts";
import { Metrics } from "../src/ops/metrics.ts";
import { stripeWebhook } from "./fakes/stripe_config.ts";
import { seriesValue } from "./helpers/metrics.ts";

function input(id: string, type: string): IngestInput {
  return { id, type, payload: `{"id":"${id}"}`, receivedAt: 1_750_000_000_000, source: "delivery" };
}

async function withInbox(fn: (inbox: Inbox) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "whd_ingest_" });
  const inbox = await openInbox({ url: `file:${dir}/whd.db` });
  try {
    await fn(inbox);
  } finally {
    inbox.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ingest stores wanted events pending and others ignored, dedupes, counts, and wakes once", async () => {
  await withInbox(async (inbox) => {
    const metrics = new Metrics();
    const woken: EventKey[] = [];
    const webhook = stripeWebhook({ events: ["invoice.paid"] });
    const ingest = createIngest({ inbox, metrics, onAccepted: (k) => woken.push(k) }, webhook);

    assert.deepEqual(await ingest(input("evt_1", "invoice.paid")), {
      wanted: true,
      duplicate: false,
      status: "pending",
    });
    assert.deepEqual(await ingest(input("evt_2", "charge.failed")), {
      wanted: false,
      duplicate: false,
      status: "ignored",
    });
    assert.deepEqual(await ingest(input("evt_1", "invoice.paid")), {
      wanted: true,
      duplicate: true,
      status: "pending",
    });

    assert.deepEqual(woken, [{ provider: "stripe", id: "evt_1" }]);
    const count = (result: string) =>
      seriesValue(metrics, "whd_events_total", { webhook: webhook.name, result });
    assert.deepEqual([count("stored"), count("ignored"), count("duplicate")], [1, 1, 1]);
    const rows = await inbox.list({ provider: "stripe", limit: 10 });
    assert.deepEqual(rows.map((r) => [r.id, r.status]).sort(), [
      ["evt_1", "pending"],
      ["evt_2", "ignored"],
    ]);
  });
});

Deno.test("ingest counts a store failure and rethrows it, acknowledging nothing", async () => {
  await withInbox(async (inbox) => {
    const metrics = new Metrics();
    const woken: EventKey[] = [];
    inbox.close();
    const ingest = createIngest(
      { inbox, metrics, onAccepted: (k) => woken.push(k) },
      stripeWebhook(),
    );
    await assert.rejects(ingest(input("evt_1", "invoice.paid")));
    assert.equal(seriesValue(metrics, "whd_store_errors_total", { provider: "stripe" }), 1);
    assert.deepEqual(woken, []);
  });
});
