import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { StoreUnavailable } from "../../src/inbox/types.ts";
import { ev, T0, withInbox } from "./_helpers.ts";

const lease = { owner: "w1", leaseMs: 30_000, now: T0 };

Deno.test("outcomes issued together share one transaction and keep their own lease checks", async () => {
  await withInbox(async (inbox) => {
    await Promise.all(Array.from({ length: 5 }, (_, i) => inbox.accept(ev(`evt_${i}`))));
    const [a, b, c, d, e] = await inbox.claim({ ...lease, limit: 5 });
    const before = inbox.stats().writeTransactions;
    const t = T0 + 10;
    const results = await Promise.all([
      inbox.complete(a, "w1", t),
      inbox.complete(b, "intruder", t), // lost lease: false for this row only
      inbox.fail(c, "w1", "boom", t + 1_000, t),
      inbox.bury(d, "w1", "gave up", t),
      inbox.release(e, "w1", t),
    ]);
    assert.deepEqual(results, [true, false, true, true, true]);
    assert.equal(inbox.stats().writeTransactions, before + 1);
    const status = async (id: string) => (await inbox.find(id))[0].status;
    assert.deepEqual(
      [await status(a.id), await status(b.id), await status(c.id), await status(d.id)],
      ["done", "running", "failed", "dead"],
    );
    assert.equal(await status(e.id), "pending");
  });
});

Deno.test("a locked database fails calls with StoreUnavailable at the deadline without blocking the event loop", async () => {
  await withInbox(async (inbox, { url }) => {
    await inbox.accept(ev("evt_before"));
    assert.deepEqual(inbox.health(), { available: true });
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      () => new Response("up"),
    );
    const locker = createClient({ url });
    const tx = await locker.transaction("write");
    await tx.execute("UPDATE events SET webhook = webhook");
    try {
      let settled = false;
      const stuck = inbox.accept(ev("evt_locked")).finally(() => settled = true);
      // The driver is waiting for the lock in the store worker; this thread still serves HTTP.
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(await res.text(), "up");
      assert.equal(settled, false, "the accept answered while the lock was held");
      // Calls queued behind the stuck write are bounded by the same deadline.
      const queued = inbox.accept(ev("evt_queued"));
      const read = inbox.counts();
      for (const call of [stuck, queued, read]) {
        await assert.rejects(call, (e: unknown) => {
          assert.ok(e instanceof StoreUnavailable, String(e));
          assert.match(e.message, /no answer within 300 ms/);
          return true;
        });
      }
      assert.equal(inbox.stats().timeouts, 3);
      const health = inbox.health();
      assert.equal(health.available, false);
      assert.match((health as { reason: string }).reason, /no answer within 300 ms/);
    } finally {
      await tx.rollback();
      tx.close();
      locker.close();
      await server.shutdown();
    }
    // Once the lock is gone the store answers again. The timed-out write committed late (the
    // sender's retry is then a duplicate); the one still queued at its deadline was dropped.
    assert.deepEqual(await inbox.accept(ev("evt_locked")), { duplicate: true, status: "pending" });
    assert.deepEqual(await inbox.accept(ev("evt_queued")), { duplicate: false, status: "pending" });
    assert.deepEqual(inbox.health(), { available: true });
  }, { deadlineMs: 300, busyTimeoutMs: 10_000 });
});
