/**
 * The store worker dies (an uncaught error, as a bug or out-of-memory would end it): the calls in
 * flight fail with StoreUnavailable, the next call starts a new worker, and the inbox goes on
 * without a restart. Every accept that resolved has its row.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { StoreUnavailable } from "../../src/inbox/types.ts";

Deno.test("store worker crash: in-flight calls fail as unavailable, the next call respawns it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_respawn_" });
  const workers: Worker[] = [];
  const spawnWorker = () => {
    const worker = new Worker(new URL("./_crashing_store_worker.ts", import.meta.url), {
      type: "module",
    });
    workers.push(worker);
    return worker;
  };
  const inbox = await openInbox({
    url: `file:${join(dir, "whd.db")}`,
    spawnWorker,
    probeIntervalMs: 0,
  });
  const event = (id: string) => ({
    id,
    provider: "shop",
    webhook: "orders",
    type: "order.created",
    payload: "{}",
    receivedAt: Date.now(),
    source: "delivery" as const,
  });
  try {
    const acknowledged: string[] = [];
    await inbox.accept(event("evt_before"));
    acknowledged.push("evt_before");
    workers[0].postMessage({ type: "die" });
    await new Promise((r) => setTimeout(r, 300)); // it is dead by now
    // Calls until one is stored again: the first ones may fail, none may hang or throw otherwise.
    let failures = 0;
    for (let i = 0; acknowledged.length < 2; i++) {
      try {
        await inbox.accept(event(`evt_after_${i}`));
        acknowledged.push(`evt_after_${i}`);
      } catch (error) {
        assert.ok(
          error instanceof StoreUnavailable || /store worker/.test(String(error)),
          String(error),
        );
        failures++;
        assert.ok(failures < 20, "the store never came back");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(workers.length, 2, "exactly one new worker");
    assert.deepEqual(inbox.health(), { available: true });
    const stored = await inbox.list({ limit: 100 });
    assert.deepEqual(stored.map((e) => e.id).sort(), [...acknowledged].sort());
  } finally {
    inbox.close();
    await inbox.whenClosed().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
