import assert from "node:assert/strict";
import { Deadlines } from "../../src/inbox/deadlines.ts";

interface Call {
  name: string;
  settled: boolean;
}

function call(name: string): Call {
  return { name, settled: false };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Deadlines whose expiry settles the call and records `name@afterMs`. */
function recording(): { deadlines: Deadlines<Call>; expired: string[] } {
  const expired: string[] = [];
  const deadlines = new Deadlines<Call>((c, afterMs) => {
    c.settled = true;
    deadlines.settled(); // what GroupWriter's reject does (a no-op while expiring)
    expired.push(`${c.name}@${afterMs}`);
  });
  return { deadlines, expired };
}

Deno.test("a call still waiting at its deadline expires once; a settled one never does", async () => {
  const { deadlines, expired } = recording();
  const [a, b, c] = [call("a"), call("b"), call("c")];
  for (const x of [a, b, c]) deadlines.add(x, 40);
  b.settled = true;
  deadlines.settled();
  await sleep(10);
  assert.deepEqual(expired, [], "nothing expires before its deadline");
  await sleep(80);
  assert.deepEqual(expired, ["a@40", "c@40"]);
  // No timer is left behind (the test sanitizer would fail otherwise).
});

Deno.test("calls added later expire later, each at its own deadline", async () => {
  const { deadlines, expired } = recording();
  const first = call("first");
  deadlines.add(first, 50);
  await sleep(30);
  const second = call("second");
  deadlines.add(second, 50);
  await sleep(40); // first is past 50 ms, second at ~40 ms
  assert.deepEqual(expired, ["first@50"]);
  await sleep(40);
  assert.deepEqual(expired, ["first@50", "second@50"]);
});

Deno.test("a shorter deadline added behind a longer one still expires on time", async () => {
  const { deadlines, expired } = recording();
  const slow = call("slow");
  const quick = call("quick");
  deadlines.add(slow, 300);
  deadlines.add(quick, 30);
  await sleep(80);
  assert.deepEqual(expired, ["quick@30"]);
  slow.settled = true;
  deadlines.settled(); // clears the 300 ms timer: the test ends without waiting for it
});

Deno.test("settling every call stops the timers, and settling from onExpire is safe", async () => {
  const { deadlines, expired } = recording();
  const many = Array.from({ length: 5_000 }, (_, i) => call(`c${i}`));
  for (const c of many) deadlines.add(c, 20);
  for (const c of many.slice(0, 4_998)) c.settled = true;
  deadlines.settled();
  await sleep(60);
  assert.deepEqual(expired, ["c4998@20", "c4999@20"]);

  const idle = call("idle");
  deadlines.add(idle, 10_000);
  idle.settled = true;
  deadlines.settled(); // the 10 s timer is gone: this test would otherwise leak it
});
