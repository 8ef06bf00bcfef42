/** The attempts table: written with the outcome, bound to the lease, gone with its event. */
import assert from "node:assert/strict";
import { type AttemptRecord, tailBytes } from "../../src/inbox/attempts.ts";
import { ev, T0, withInbox } from "./_helpers.ts";

const run = (attempt: number, over: Partial<AttemptRecord> = {}): AttemptRecord => ({
  attempt,
  started_at: T0 + attempt,
  duration_ms: 5,
  outcome: "error",
  error: "boom",
  output: "line\n",
  ...over,
});

Deno.test("an attempt issued with its outcome shares the outcome's transaction", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_1"));
    const [stored] = await inbox.claim({ owner: "me", limit: 1, leaseMs: 1000, now: T0 });
    const key = { provider: stored.provider, id: stored.id };
    const before = inbox.stats().writeTransactions;
    const [, done] = await Promise.all([
      inbox.recordAttempt(key, "me", run(1, { outcome: "ok", error: null })),
      inbox.complete(key, "me", T0 + 10),
    ]);
    assert.equal(done, true);
    assert.equal(inbox.stats().writeTransactions - before, 1, "one transaction for both");
    assert.deepEqual(await inbox.attempts(key), [run(1, { outcome: "ok", error: null })]);
  });
});

Deno.test("a run whose lease was lost records no attempt", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_2"));
    await inbox.claim({ owner: "me", limit: 1, leaseMs: 10, now: T0 });
    // The lease expired and another owner took the event.
    await inbox.claim({ owner: "other", limit: 1, leaseMs: 1000, now: T0 + 100 });
    const key = { provider: "stripe", id: "evt_2" };
    await inbox.recordAttempt(key, "me", run(1));
    assert.equal(await inbox.fail(key, "me", "boom", T0 + 500, T0 + 100), false);
    assert.deepEqual(await inbox.attempts(key), []);
    await inbox.recordAttempt(key, "other", run(2));
    assert.deepEqual((await inbox.attempts(key)).map((a) => a.attempt), [2]);
  });
});

Deno.test("purging an event deletes its attempts; output is kept as a bounded tail", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_3"));
    await inbox.claim({ owner: "me", limit: 1, leaseMs: 1000, now: T0 });
    const key = { provider: "stripe", id: "evt_3" };
    const long = "é".repeat(5000) + "END";
    await Promise.all([
      inbox.recordAttempt(key, "me", run(1, { output: long, outcome: "ok", error: null })),
      inbox.complete(key, "me", T0 + 10),
    ]);
    const [kept] = await inbox.attempts(key);
    assert.ok(new TextEncoder().encode(kept.output).length <= 4096);
    assert.ok(kept.output.endsWith("éEND"), "the tail, cut at a character boundary");
    assert.equal(await inbox.purge(T0 + 1), 1);
    assert.deepEqual(await inbox.attempts(key), []);
  });
});

Deno.test("tailBytes keeps whole characters", () => {
  assert.equal(tailBytes("abc", 10), "abc");
  assert.equal(tailBytes("aéb", 2), "b");
  assert.equal(tailBytes("aéb", 3), "éb");
});
