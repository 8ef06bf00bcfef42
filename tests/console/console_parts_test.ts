/**
 * The console's parts on their own, with a manual clock: the live-stream watcher (one store
 * check per interval for all streams, a change only when the store moved, counts standing in
 * when the change mark cannot be read, streams ended by close), settled throughput buckets
 * counted once, session expiry after 12 h, and the Host and same-origin rules.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { hostAllowed, sameOrigin } from "../../src/console/console_security.ts";
import { SESSION_TTL_MS, SessionStore } from "../../src/console/console_sessions.ts";
import { StreamHub } from "../../src/console/console_stream.ts";
import { ThroughputCache } from "../../src/console/console_throughput.ts";
import type { EventStatus } from "../../src/inbox/types.ts";
import { createLogger } from "../../src/ops/log.ts";

const quiet = createLogger({ level: "error", write: () => {} });

/** A store whose counts and change mark the test sets; counts the reads. */
function fakeStore(options: { markFails?: boolean } = {}) {
  const state = { mark: "m1", done: 0, markReads: 0, countReads: 0 };
  return {
    state,
    queries: {
      changeMark() {
        state.markReads++;
        if (options.markFails) return Promise.reject(new Error("no pragma here"));
        return Promise.resolve({ mark: state.mark, newestReceivedAt: 5 });
      },
      counts() {
        state.countReads++;
        const counts = { pending: 0, running: 0, done: state.done, failed: 0, dead: 0 };
        return Promise.resolve({ ...counts, ignored: 0, unhandled: 0 } as Record<
          EventStatus,
          number
        >);
      },
    },
  };
}

/** Lets the watcher's promise chain run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

/** A stream's reader that returns what was sent so far without waiting for more. */
function tap(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  return {
    async frames(): Promise<string[]> {
      const frames: string[] = [];
      while (true) {
        pending ??= reader.read();
        const next = await Promise.race([pending, settle().then(() => null)]);
        if (next === null) return frames;
        pending = undefined;
        if (next.done) return [...frames, "<end>"];
        frames.push(...decoder.decode(next.value).split("\n\n").filter((f) => f !== ""));
      }
    },
  };
}

for (const markFails of [false, true]) {
  Deno.test(
    `stream hub: one check per interval for every stream, a change only when the store moved${
      markFails ? " (counts stand in for the change mark)" : ""
    }`,
    async () => {
      const clock = new ManualClock();
      const store = fakeStore({ markFails });
      const hub = new StreamHub({ queries: store.queries, clock, log: quiet, maxStreams: 2 });
      const a = tap(hub.open({})!);
      const b = tap(hub.open({})!);
      assert.equal(hub.open({}), null, "a third stream past the cap");
      clock.advance(0);
      await settle();
      const framesA = await a.frames();
      assert.equal(framesA[0], "retry: 2000");
      assert.match(framesA[1], /^event: change\ndata: \{"counts":\{"pending":0,.*"total":0\}/);
      // Nothing changed: checks go on, no new change is sent.
      for (let i = 0; i < 3; i++) {
        clock.advance(1000);
        await settle();
      }
      assert.equal((await a.frames()).length, 0);
      const reads = markFails ? store.state.countReads : store.state.markReads;
      assert.equal(reads, 4, "one read per interval, shared by both streams");
      // The store moves: both streams get one change with the new counts.
      store.state.mark = "m2";
      store.state.done = 1;
      clock.advance(1000);
      await settle();
      for (const reader of [a, b]) {
        const frames = (await reader.frames()).filter((f) => f.startsWith("event: change"));
        assert.equal(frames.length, reader === a ? 1 : 2); // b had not read its first one yet
        assert.match(frames.at(-1)!, /"done":1,.*"total":1/);
      }
      // close() ends every stream and stops the checks.
      hub.close();
      assert.deepEqual(await a.frames(), ["<end>"]);
      assert.equal(clock.pendingTimers, 0);
      assert.equal(hub.open({}), null);
    },
  );
}

Deno.test("stream hub: the last stream closed stops the checks; a new one restarts them", async () => {
  const clock = new ManualClock();
  const store = fakeStore();
  const hub = new StreamHub({ queries: store.queries, clock, log: quiet });
  const response = hub.open({})!;
  clock.advance(0);
  await settle();
  await response.body!.cancel();
  assert.equal(hub.size, 0);
  assert.equal(clock.pendingTimers, 0);
  const again = tap(hub.open({})!);
  // The new stream gets the last change at once, before any check.
  const frames = await again.frames();
  assert.match(frames[1], /^event: change/);
  assert.equal(clock.pendingTimers, 1);
  hub.close();
});

Deno.test("sessions expire 12 h after login; an unknown or ended cookie finds nothing", () => {
  let now = 1_700_000_000_000;
  let n = 0;
  const sessions = new SessionStore({ now: () => now, random: () => `r${n++}` });
  const session = sessions.create();
  assert.notEqual(session.csrf, session.id);
  assert.notEqual(session.csrf, sessions.processCsrf);
  const cookie = `other=1; whd_session=${session.id}`;
  assert.equal(sessions.find(cookie)?.id, session.id);
  now += SESSION_TTL_MS - 1;
  assert.equal(sessions.find(cookie)?.id, session.id);
  now += 1;
  assert.equal(sessions.find(cookie), undefined);
  const second = sessions.create();
  sessions.end(second);
  assert.equal(sessions.find(`whd_session=${second.id}`), undefined);
  assert.equal(sessions.find("whd_session=nope"), undefined);
  assert.equal(sessions.find(null), undefined);
});

Deno.test("Host rule: an open console answers loopback names only; with a token any Host (a proxy's name)", () => {
  const cases: [string | null, boolean, boolean][] = [
    ["127.0.0.1:9090", true, true],
    ["127.0.0.2", true, true],
    ["localhost:8000", true, true],
    ["app.localhost", true, true],
    ["[::1]:9090", true, true],
    ["192.0.2.10:9090", false, true],
    ["evil.example", false, true],
    ["127.0.0.1.evil.example", false, true],
    ["localhost.evil.example", false, true],
    ["", false, false],
    [null, false, false],
  ];
  for (const [host, open, withToken] of cases) {
    assert.equal(hostAllowed(host, true), open, `${host}, no token`);
    assert.equal(hostAllowed(host, false), withToken, `${host}, token`);
  }
});

Deno.test("same-origin rule: Sec-Fetch-Site decides when sent, else Origin must match Host", () => {
  const host = "127.0.0.1:9090";
  const cases: [Record<string, string>, boolean][] = [
    [{}, true],
    [{ origin: `http://${host}` }, true],
    [{ origin: `https://${host}` }, true],
    [{ origin: "http://127.0.0.1:9091" }, false],
    [{ origin: "http://evil.example" }, false],
    [{ origin: "null" }, false],
    [{ "sec-fetch-site": "same-origin", origin: "null" }, true],
    [{ "sec-fetch-site": "same-site" }, false],
    [{ "sec-fetch-site": "cross-site", origin: `http://${host}` }, false],
    [{ "sec-fetch-site": "none" }, false],
  ];
  for (const [headers, ok] of cases) {
    assert.equal(sameOrigin(new Headers({ host, ...headers })), ok, JSON.stringify(headers));
  }
});

Deno.test("throughput cache: settled buckets are counted once; recent ones every time", async () => {
  const asked: [number, number][] = [];
  const cache = new ThroughputCache({
    throughput(from, bucketMs, count) {
      asked.push([from, count]);
      return Promise.resolve(Array.from({ length: count }, (_, i) => ({
        t: from + i * bucketMs,
        received: asked.length,
        ok: 0,
        error: 0,
        timeout: 0,
        crashed: 0,
      })));
    },
  }, { settleMs: 120_000 });
  const minute = 60_000;
  const to = 1_700_000_040 * minute; // now is inside the last bucket
  const now = to - 30_000;
  const from = to - 60 * minute;
  const first = await cache.read(from, minute, 60, now);
  assert.deepEqual(asked, [[from, 60]]);
  assert.deepEqual(first.map((b) => b.t), Array.from({ length: 60 }, (_, i) => from + i * minute));
  // Buckets that ended 2 minutes before now are settled: only the last 3 are counted again.
  const second = await cache.read(from, minute, 60, now + 1000);
  assert.deepEqual(asked[1], [to - 3 * minute, 3]);
  assert.equal(second.length, 60);
  assert.deepEqual(second.slice(0, 57).map((b) => b.received), Array(57).fill(1));
  assert.deepEqual(second.slice(57).map((b) => b.received), [2, 2, 2]);
  // A minute later the range moved on: one settled bucket dropped, the new ones counted.
  const third = await cache.read(from + minute, minute, 60, now + minute);
  assert.equal(third[0].t, from + minute);
  assert.deepEqual(asked[2], [to - 3 * minute, 4]);
});
