/**
 * The listener's bookkeeping (src/http/connection_table.ts) and its rate-limited log line, on
 * a manual clock: which connections time out in which phase, and which one is given up first.
 */
import assert from "node:assert/strict";
import { ConnectionTable } from "../src/http/connection_table.ts";
import { rateLimited } from "../src/ops/throttle.ts";
import { ManualClock } from "../src/clock.ts";

const timeouts = { headMs: 1000, idleMs: 500, bodyMs: 3000, closingMs: 100 };

Deno.test("connection table: each phase times out after its own limit; a busy one never", () => {
  const table = new ConnectionTable<string>(timeouts);
  const head = table.add("head", 0);
  const idle = table.add("idle", 0);
  table.enter(idle, "idle", 0);
  const body = table.add("body", 0);
  table.enter(body, "body", 0);
  const busy = table.add("busy", 0);
  table.enter(busy, "busy", 0);
  const names = (now: number) => table.expired(now).map((e) => e.value).sort();
  assert.deepEqual(names(499), []);
  assert.deepEqual(names(500), ["idle"]);
  assert.deepEqual(names(1000), ["head", "idle"]);
  assert.deepEqual(names(3000), ["body", "head", "idle"]);
  assert.deepEqual(names(1e12), ["body", "head", "idle"]);
  table.remove(head);
  assert.equal(table.size, 3);
  assert.deepEqual(names(1e12), ["body", "idle"]);
});

Deno.test("connection table: the oldest waiting connection is reaped first, once old enough", () => {
  const table = new ConnectionTable<string>(timeouts);
  const a = table.add("a", 0);
  const b = table.add("b", 10);
  const c = table.add("c", 20);
  assert.equal(table.waiting, 3);
  // a starts a request: busy ones are never reaped.
  table.enter(a, "body", 30);
  assert.equal(table.oldestIdle(1000)?.value, "b");
  // a finishes and waits again: now it is the newest waiting.
  table.enter(a, "idle", 40);
  table.remove(b);
  assert.equal(table.oldestIdle(1000)?.value, "c");
  // Younger than minWaitMs: none.
  assert.equal(table.oldestIdle(100, 250), undefined);
  assert.equal(table.oldestIdle(270, 250)?.value, "c");
  table.enter(c, "busy", 300);
  assert.equal(table.oldestIdle(1000, 250)?.value, "a");
  assert.equal(table.waiting, 1);
});

Deno.test("rateLimited: at most one line per interval, with the count it swallowed", () => {
  const clock = new ManualClock();
  const lines: string[] = [];
  const note = rateLimited(clock, 1000, (suppressed, what: string) => {
    lines.push(`${what} +${suppressed}`);
  });
  note("a");
  note("b");
  note("c");
  clock.advance(999);
  note("d");
  clock.advance(1);
  note("e");
  assert.deepEqual(lines, ["a +0", "e +3"]);
});
