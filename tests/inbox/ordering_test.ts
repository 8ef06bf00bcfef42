/** Ordering by object in the inbox: claims take only the head of each key. */
import assert from "node:assert/strict";
import type { OrderOf } from "../../src/inbox/ordering.ts";
import { ev, T0, withInbox } from "./_helpers.ts";

/** The key is the payload's `obj`, the order time its `at` (else the receive time). */
const orderOf: OrderOf = (e) => {
  const p = JSON.parse(e.payload);
  return p.obj ? { key: p.obj, at: p.at ?? e.receivedAt } : undefined;
};
const keyed = (id: string, obj: string | undefined, receivedAt: number, at?: number) =>
  ev(id, { receivedAt, payload: JSON.stringify({ id, obj, at }) });
const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

Deno.test("one event per key at a time, oldest (by order time) first; other keys and unkeyed run", async () => {
  await withInbox(async (inbox) => {
    // a2 was created before a1 but received after it: a2 goes first.
    await inbox.accept(keyed("a1", "A", T0, T0 + 50));
    await inbox.accept(keyed("a2", "A", T0 + 1, T0 + 10));
    await inbox.accept(keyed("b1", "B", T0 + 2));
    await inbox.accept(keyed("b2", "B", T0 + 3));
    await inbox.accept(keyed("u1", undefined, T0 + 4));
    await inbox.accept(keyed("u2", undefined, T0 + 5));
    const claim = (now: number) => inbox.claim({ owner: "w", limit: 10, leaseMs: 1000, now });
    const first = await claim(T0 + 100);
    assert.deepEqual(ids(first), ["a2", "b1", "u1", "u2"]);
    assert.deepEqual(await claim(T0 + 101), [], "the rest wait for their key");

    // a2 fails: it is still ahead of a1, so a1 waits through a2's backoff.
    await inbox.fail({ provider: "stripe", id: "a2" }, "w", "boom", T0 + 500, T0 + 102);
    await inbox.complete({ provider: "stripe", id: "b1" }, "w", T0 + 102);
    assert.deepEqual(ids(await claim(T0 + 103)), ["b2"]);
    assert.deepEqual(ids(await claim(T0 + 600)), ["a2"], "the retry comes before a1");

    // a2 dies: a dead event no longer blocks its key.
    await inbox.bury({ provider: "stripe", id: "a2" }, "w", "gave up", T0 + 601);
    assert.deepEqual(ids(await claim(T0 + 602)), ["a1"]);
  }, { orderOf });
});

Deno.test("an expired lease lets its own event run again, still ahead of later events of its key", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(keyed("k1", "K", T0));
    await inbox.accept(keyed("k2", "K", T0 + 1));
    const claim = (now: number) => inbox.claim({ owner: "w", limit: 10, leaseMs: 100, now });
    assert.deepEqual(ids(await claim(T0 + 10)), ["k1"]);
    assert.deepEqual(ids(await claim(T0 + 50)), []);
    assert.deepEqual(ids(await claim(T0 + 200)), ["k1"], "lease expired: k1 again, not k2");
    await inbox.complete({ provider: "stripe", id: "k1" }, "w", T0 + 210);
    assert.deepEqual(ids(await claim(T0 + 220)), ["k2"]);
  }, { orderOf });
});
