import assert from "node:assert/strict";
import { ManualClock } from "../src/clock.ts";
import { RateLimiter } from "../src/http/rate_limit.ts";

function takeMany(limiter: RateLimiter, key: string, n: number) {
  return Array.from({ length: n }, () => limiter.take(key));
}

Deno.test("exactly burst requests are accepted at once, then refused with a sane retry", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 5, clock });
  const results = takeMany(limiter, "k", 8);
  assert.deepEqual(results.slice(0, 5), Array(5).fill({ ok: true }));
  // 60/min = one token per second.
  assert.deepEqual(results.slice(5), Array(3).fill({ ok: false, retryAfterSeconds: 1 }));
});

Deno.test("retryAfterSeconds rounds the wait for one token up, and is at least 1", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 4, burst: 1, clock }); // 1 per 15 s
  assert.deepEqual(limiter.take("k"), { ok: true });
  assert.deepEqual(limiter.take("k"), { ok: false, retryAfterSeconds: 15 });
  clock.advance(10_500);
  assert.deepEqual(limiter.take("k"), { ok: false, retryAfterSeconds: 5 }); // 4.5 s left
  clock.advance(4_499);
  assert.deepEqual(limiter.take("k"), { ok: false, retryAfterSeconds: 1 }); // 1 ms left
  clock.advance(1);
  assert.deepEqual(limiter.take("k"), { ok: true });
});

Deno.test("the default burst is requestsPerMinute", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 30, clock });
  assert.equal(limiter.burst, 30);
  assert.equal(takeMany(limiter, "k", 31).filter((r) => r.ok).length, 30);
  assert.equal(new RateLimiter({ requestsPerMinute: 0.5, clock }).burst, 1);
});

Deno.test("tokens refill continuously: partially, then up to the burst and no further", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 120, burst: 10, clock }); // 2 per second
  assert.equal(takeMany(limiter, "k", 10).filter((r) => r.ok).length, 10);
  assert.equal(limiter.take("k").ok, false);
  clock.advance(1_500); // 3 tokens
  assert.deepEqual(takeMany(limiter, "k", 4).map((r) => r.ok), [true, true, true, false]);
  clock.advance(250); // half a token: not enough
  assert.equal(limiter.take("k").ok, false);
  clock.advance(250); // now one
  assert.equal(limiter.take("k").ok, true);
  clock.advance(3_600_000); // an hour idle refills to the burst, not beyond
  assert.equal(takeMany(limiter, "k", 11).filter((r) => r.ok).length, 10);
});

Deno.test("keys have independent buckets", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 2, clock });
  assert.deepEqual(takeMany(limiter, "a", 3).map((r) => r.ok), [true, true, false]);
  assert.deepEqual(takeMany(limiter, "b", 3).map((r) => r.ok), [true, true, false]);
  clock.advance(1_000);
  assert.deepEqual(takeMany(limiter, "a", 2).map((r) => r.ok), [true, false]);
});

Deno.test("a clock going backwards adds no tokens", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 1, clock });
  assert.equal(limiter.take("k").ok, true);
  clock.set(clock.now() - 60_000);
  assert.equal(limiter.take("k").ok, false);
});

Deno.test("memory stays bounded: 100k distinct keys never hold more than maxKeys", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 3, clock, maxKeys: 1_000 });
  let largest = 0;
  for (let i = 0; i < 100_000; i++) {
    limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (limiter.size > largest) largest = limiter.size;
  }
  assert.equal(largest, 1_000);
  // The most recent keys are still limited (their buckets were kept).
  const last = `10.1.134.159`; // i = 99_999
  assert.deepEqual(takeMany(limiter, last, 3).map((r) => r.ok), [true, true, false]);
});

Deno.test("with time passing, idle eviction alone keeps only recently active keys", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 3, clock }); // maxKeys 10 000
  let largest = 0;
  for (let i = 0; i < 100_000; i++) {
    clock.advance(10); // 100 new keys a second; each bucket is full again one second after use
    limiter.take(`key-${i}`);
    if (limiter.size > largest) largest = limiter.size;
  }
  assert.ok(largest <= 101, `largest ${largest}`);
});

Deno.test("idle buckets that have refilled to full are evicted", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 5, clock });
  for (let i = 0; i < 100; i++) limiter.take(`key-${i}`);
  assert.equal(limiter.size, 100);
  // Each bucket lost one token: full again after one second.
  clock.advance(999);
  limiter.take("fresh-0");
  assert.equal(limiter.size, 101, "nothing is full yet, so nothing is dropped");
  clock.advance(1);
  for (let i = 1; i <= 25; i++) limiter.take(`fresh-${i}`);
  // Making room for 25 new keys dropped the 100 full buckets; "fresh-0", used 1 ms ago and
  // not full, stays.
  assert.equal(limiter.size, 26);
});

Deno.test("eviction forgets nothing a key still owes while its bucket is not full", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 2, clock });
  assert.deepEqual(takeMany(limiter, "drained", 3).map((r) => r.ok), [true, true, false]);
  clock.advance(500);
  for (let i = 0; i < 50; i++) limiter.take(`other-${i}`);
  // Half a token back: still refused, so its bucket was kept.
  assert.equal(limiter.take("drained").ok, false);
});

Deno.test("invalid options are refused", () => {
  const clock = new ManualClock();
  assert.throws(() => new RateLimiter({ requestsPerMinute: 0, clock }), RangeError);
  assert.throws(() => new RateLimiter({ requestsPerMinute: 10, burst: 0, clock }), RangeError);
  assert.throws(() => new RateLimiter({ requestsPerMinute: 10, burst: 1.5, clock }), RangeError);
  assert.throws(() => new RateLimiter({ requestsPerMinute: 10, maxKeys: 0, clock }), RangeError);
});
