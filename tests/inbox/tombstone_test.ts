import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { ev, T0, withInbox } from "./_helpers.ts";

const lease = { owner: "w1", leaseMs: 30_000, now: T0 };
const DAY = 86_400_000;

Deno.test("a purged event's id stays a duplicate: a retry stores and runs nothing", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_done"));
    await inbox.accept(ev("evt_ign"), { status: "ignored" });
    const [e] = await inbox.claim({ ...lease, limit: 1 });
    assert.equal(await inbox.complete(e, "w1", T0 + 1), true);
    assert.equal(await inbox.purge(T0 + 1_000), 2);
    assert.deepEqual(await inbox.find("evt_done"), []);

    // The provider retries (a day later), and a backfill brings the same event again.
    const retry = ev("evt_done", { receivedAt: T0 + DAY, payload: '{"retried":true}' });
    assert.deepEqual(await inbox.accept(retry), { duplicate: true, status: "done" });
    assert.deepEqual(await inbox.accept({ ...retry, source: "backfill" }), {
      duplicate: true,
      status: "done",
    });
    assert.deepEqual(await inbox.accept(ev("evt_ign", { receivedAt: T0 + DAY })), {
      duplicate: true,
      status: "ignored",
    });
    assert.deepEqual(await inbox.find("evt_done"), []);
    assert.deepEqual(await inbox.claim({ ...lease, limit: 10, now: T0 + 2 * DAY }), []);
    assert.equal(Object.values(await inbox.counts()).reduce((a, b) => a + b), 0);
    // A new id is stored as usual, and a second purge keeps the first tombstone.
    assert.equal((await inbox.accept(ev("evt_new", { receivedAt: T0 + DAY }))).duplicate, false);
    assert.equal(await inbox.purge(T0 + 1_000), 0);
    assert.equal((await inbox.accept(ev("evt_done", { receivedAt: T0 + DAY }))).duplicate, true);
  }, { now: () => T0 + 2_000 });
});

Deno.test("after dedupe retention a purged id is stored and runs again, and its tombstone goes", async () => {
  let now = T0 + 2_000;
  await withInbox(async (inbox, { url }) => {
    await inbox.accept(ev("evt_a"), { status: "ignored" });
    await inbox.accept(ev("evt_b"), { status: "ignored" });
    assert.equal(await inbox.purge(T0 + 1_000), 2);
    // Within the retention (measured from when the event was received): still a duplicate.
    assert.equal(
      (await inbox.accept(ev("evt_a", { receivedAt: T0 + 10 * DAY - 1 }))).duplicate,
      true,
    );
    // From then on it is a new event.
    assert.deepEqual(await inbox.accept(ev("evt_a", { receivedAt: T0 + 10 * DAY })), {
      duplicate: false,
      status: "pending",
    });
    const [claimed] = await inbox.claim({ ...lease, limit: 5, now: T0 + 10 * DAY });
    assert.equal(claimed.id, "evt_a");
    assert.equal(claimed.attempts, 1);

    const tombstones = async () => {
      const raw = createClient({ url });
      try {
        const rs = await raw.execute("SELECT id FROM purged ORDER BY id");
        return rs.rows.map((r) => String(r.id));
      } finally {
        raw.close();
      }
    };
    assert.deepEqual(await tombstones(), ["evt_a", "evt_b"]);
    // A later purge deletes the expired tombstones.
    now = T0 + 10 * DAY;
    assert.equal(await inbox.purge(T0 + 1_000), 0);
    assert.deepEqual(await tombstones(), []);
    assert.equal((await inbox.accept(ev("evt_b", { receivedAt: now }))).duplicate, false);
  }, { now: () => now, dedupeRetentionMs: 10 * DAY });
});

Deno.test("purging events older than the retention keeps no tombstone for them", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_old"), { status: "ignored" });
    assert.equal(await inbox.purge(T0 + 1), 1);
    assert.equal(
      (await inbox.accept(ev("evt_old", { receivedAt: T0 + 40 * DAY }))).duplicate,
      false,
    );
  }, { now: () => T0 + 40 * DAY });
});
