import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { createPoller, type PollerOptions } from "../../src/dispatch/poller.ts";
import type { StoredEvent } from "../../src/inbox/types.ts";
import { memoryLogger } from "../../src/ops/log.ts";

/** Lets every pending promise callback run (microtasks only: no timer is waited for). */
async function settle() {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

function stored(id: string): StoredEvent {
  return {
    id,
    provider: "stripe",
    webhook: "main",
    type: "x",
    payload: "{}",
    received_at: 0,
    source: "delivery",
    status: "running",
    attempts: 1,
    next_attempt_at: null,
    lease_owner: "me",
    lease_until: null,
    last_error: null,
    updated_at: 0,
    completed_at: null,
  };
}

/** A poller over an in-memory backlog whose runs finish when the test says so. */
function harness(
  backlogSize: number,
  options: Partial<Omit<PollerOptions, "clock">> & { clock?: ManualClock } = {},
) {
  const clock = options.clock ?? new ManualClock();
  const backlog = Array.from({ length: backlogSize }, (_, i) => stored(`e${i}`));
  const claims: number[] = [];
  const released: string[] = [];
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  let lock = Promise.resolve<unknown>(undefined);
  const poller = createPoller({
    claim(limit) {
      claims.push(limit);
      return Promise.resolve(backlog.splice(0, limit));
    },
    release(s) {
      released.push(s.id);
      return Promise.resolve(true);
    },
    run(s) {
      started.push(s.id);
      return new Promise<void>((resolve) => finishers.set(s.id, resolve));
    },
    exclusive(fn) {
      const next = lock.then(fn);
      lock = next.catch(() => {});
      return next;
    },
    concurrency: 2,
    maxQueueWaitMs: 1000,
    pollMs: 1000,
    clock,
    log: memoryLogger(),
    ...options,
  });
  /** Finishes the runs going now after `ms` on the clock. */
  const finishAll = (ms = 1) => {
    clock.advance(ms);
    const running = [...finishers.entries()];
    finishers.clear();
    for (const [, finish] of running) finish();
  };
  return { clock, backlog, claims, released, started, poller, finishAll, finishers };
}

Deno.test("poller: the first claim asks for the free slots; never more than concurrency run at once", async () => {
  const h = harness(10);
  h.poller.start();
  await settle();
  assert.deepEqual(h.claims, [2], "no run time known yet: only the slots");
  assert.deepEqual(h.started, ["e0", "e1"]);
  assert.equal(h.poller.running, 2);
  h.poller.notify();
  await settle();
  assert.equal(h.poller.running, 2, "a wake-up while full starts nothing more");
  await h.poller.stop();
});

Deno.test("poller: deliveries accepted while every slot is taken leave the loop asleep; the run that frees a slot claims them", async () => {
  let armed = 0;
  const clock = new ManualClock();
  const setTimer = clock.setTimer.bind(clock);
  clock.setTimer = (ms, fn) => (armed++, setTimer(ms, fn));
  const h = harness(0, { concurrency: 1, clock });
  h.poller.start();
  await settle();
  h.backlog.push(stored("a"));
  h.poller.notify();
  await settle();
  assert.deepEqual(h.started, ["a"]);
  const timers = armed;
  const claims = h.claims.length;
  for (let i = 0; i < 50; i++) {
    h.backlog.push(stored(`b${i}`));
    h.poller.notify();
  }
  await settle();
  assert.equal(h.claims.length, claims, "no claim without room");
  assert.equal(armed, timers, "the poll timer was not re-armed per delivery");
  h.finishAll();
  await settle();
  assert.equal(h.claims.length, claims + 1, "the freed slot claims at once, before pollMs");
  assert.equal(h.started[1], "b0");
  h.finishAll();
  await h.poller.stop();
});

Deno.test("poller: once runs are known to be quick it claims batches ahead and drains the backlog", async () => {
  const h = harness(500);
  h.poller.start();
  await settle();
  for (let i = 0; i < 300 && h.started.length < 500; i++) {
    h.finishAll(1);
    await settle();
    assert.ok(h.poller.running <= 2, "concurrency holds");
  }
  assert.equal(h.started.length, 500, "every event ran");
  assert.equal(new Set(h.started).size, 500, "each once");
  assert.ok(Math.max(...h.claims) > 100, `batches grew: ${h.claims.join(",")}`);
  assert.ok(h.claims.length < 20, `few claims for 500 events: ${h.claims.length}`);
  h.finishAll();
  await h.poller.stop();
  assert.deepEqual(h.released, []);
});

Deno.test("poller: slow runs keep the queue small (nothing claimed far ahead)", async () => {
  const h = harness(100);
  h.poller.start();
  await settle();
  h.finishAll(5000); // runs take 5 s: half the 1 s max queue wait covers no run
  await settle();
  assert.equal(h.poller.queued, 0);
  assert.ok(h.claims.every((n) => n <= 2), h.claims.join(","));
  h.finishAll();
  await h.poller.stop();
});

Deno.test("poller: an event that waited in the queue longer than maxQueueWaitMs is released, not run", async () => {
  const h = harness(50);
  h.poller.start();
  await settle();
  h.finishAll(1);
  await settle();
  const queued = h.poller.queued;
  assert.ok(queued > 0, "quick runs: events claimed ahead");
  // The two running handlers now take longer than the queue may wait.
  h.clock.advance(1001);
  h.finishAll(0);
  await settle();
  assert.ok(h.released.length >= queued - 2, `released ${h.released.length} of ${queued}`);
  const ran = new Set(h.started);
  assert.ok(h.released.every((id) => !ran.has(id)), "a released event did not run");
  h.finishAll();
  await h.poller.stop();
});

Deno.test("poller: with nothing to do it claims again after pollMs on the clock, or at once when notified", async () => {
  const h = harness(0);
  h.poller.start();
  await settle();
  assert.equal(h.claims.length, 1);
  h.clock.advance(999);
  await settle();
  assert.equal(h.claims.length, 1, "not before pollMs");
  h.clock.advance(1);
  await settle();
  assert.equal(h.claims.length, 2, "after pollMs");
  h.backlog.push(stored("late"));
  h.poller.notify();
  await settle();
  assert.equal(h.claims.length, 3, "notify claims at once");
  assert.deepEqual(h.started, ["late"]);
  h.finishAll();
  await h.poller.stop();
});

Deno.test("poller: stop releases queued events and claims no more; take() hands a queued event over", async () => {
  const h = harness(50);
  h.poller.start();
  await settle();
  h.finishAll(1);
  await settle();
  assert.ok(h.poller.queued > 2);
  const next = h.started.length;
  const taken = h.poller.take({ provider: "stripe", id: `e${next + 2}` });
  assert.equal(taken?.id, `e${next + 2}`);
  assert.equal(h.poller.take({ provider: "stripe", id: "e0" }), undefined, "running, not queued");
  const queued = h.poller.queued;
  const claimsBefore = h.claims.length;
  await h.poller.stop();
  assert.equal(h.released.length, queued);
  assert.ok(!h.released.includes(taken!.id));
  h.finishAll();
  await settle();
  h.clock.advance(10_000);
  await settle();
  assert.equal(h.claims.length, claimsBefore, "no claim after stop");
});

Deno.test("poller: outcomes still recording count against the next batch", async () => {
  let recording = 0;
  const h = harness(1000, { recording: () => recording, maxBatch: 64 });
  h.poller.start();
  await settle();
  h.finishAll(1);
  await settle();
  recording = 10_000;
  const before = h.claims.length;
  h.finishAll(1);
  await settle();
  h.finishAll(1);
  await settle();
  assert.equal(h.claims.length, before, "no claim while many outcomes are unrecorded");
  assert.ok(h.claims.every((n) => n <= 64), "maxBatch holds");
  recording = 0;
  h.finishAll();
  await h.poller.stop();
});

Deno.test("poller: gate slots below concurrency (ingest first) hold runs back; they start when slots return", async () => {
  let slots = 1;
  const h = harness(6, { concurrency: 3, gate: { slots: () => slots, rest: () => 0 } });
  h.poller.start();
  await settle();
  assert.equal(h.started.length, 1, "one run while the slots say one");
  h.finishAll();
  await settle();
  assert.equal(h.started.length, 2, "the next one, still one at a time");
  slots = 3;
  h.finishAll();
  await settle();
  assert.equal(h.poller.running, 3, "full concurrency once the slots come back");
  await h.poller.stop();
});

Deno.test("poller: a slot rests gate.rest(run time) before its next run; stop cancels the rest", async () => {
  const h = harness(4, { concurrency: 1, gate: { slots: (n) => n, rest: (ms) => ms * 3 } });
  h.poller.start();
  await settle();
  assert.deepEqual(h.started, ["e0"]);
  h.finishAll(10); // ran 10 ms: the slot rests 30 ms
  await settle();
  assert.deepEqual(h.started, ["e0"], "resting: nothing new yet");
  h.clock.advance(29);
  await settle();
  assert.deepEqual(h.started, ["e0"]);
  h.clock.advance(1);
  await settle();
  assert.deepEqual(h.started, ["e0", "e1"], "the rest is over");
  h.finishAll(10);
  await settle();
  await h.poller.stop();
  assert.equal(h.poller.running, 0, "a resting slot is not a running one after stop");
  h.clock.advance(1000);
  await settle();
  assert.deepEqual(h.started, ["e0", "e1"], "no run after stop");
});
