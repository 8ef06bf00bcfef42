/**
 * The console API as the page uses it, against a real `whd serve` (loopback, no token): signed
 * deliveries appear in the list, newest first, filtered and paged; one event shows its kept
 * headers (never a signature) and its attempts; Retry and Replay put events back and a new
 * attempt appears; dead groups and their bulk retry; throughput counts the real deliveries;
 * handlers are the `whd handlers` table; an XSS payload comes back as JSON text; no secret is
 * in any answer.
 */
import assert from "node:assert/strict";
import { consoleProject, SECRETS } from "./_console.ts";

Deno.test("console API: list, filter, page, search, detail with headers and attempts", async () => {
  const project = await consoleProject();
  try {
    const c = await project.start();
    try {
      assert.equal(await c.github("gh-delivery-1", "push", { ref: "refs/heads/main" }), 200);
      for (let i = 0; i < 5; i++) assert.equal(await c.shop(`ord_${i}`, "order.created"), 200);
      assert.equal(await c.shop("ord_bad", "order.failed"), 200);
      const xss = "<img src=x onerror=alert(1)>";
      assert.equal(await c.shop("ord_xss", "order.created", { note: xss }), 200);

      // Everything ends up handled: done, or dead (max_attempts 1) for the failing type.
      const counts = await c.until("/api/counts", (b) => b.done === 7 && b.dead === 1);
      assert.deepEqual(counts, {
        pending: 0,
        running: 0,
        done: 7,
        failed: 0,
        dead: 1,
        ignored: 0,
        unhandled: 0,
        total: 8,
      });

      // Newest first; the page and the cursor.
      const all = await c.get("/api/events");
      assert.equal(all.status, 200);
      assert.equal(all.body.events.length, 8);
      assert.equal(all.body.next, null);
      const times = all.body.events.map((e: { received_at: number }) => e.received_at);
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
      assert.equal(all.body.events[0].id, "ord_xss");
      assert.equal(all.body.events.at(-1).id, "gh-delivery-1");
      assert.deepEqual(Object.keys(all.body.events[0]).sort(), [
        "attempts",
        "completed_at",
        "id",
        "last_error",
        "next_attempt_at",
        "provider",
        "received_at",
        "source",
        "status",
        "type",
        "updated_at",
        "webhook",
      ]);
      const seen: string[] = [];
      let cursor = "";
      for (let page = 0; page < 10; page++) {
        const { body } = await c.get(`/api/events?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
        seen.push(...body.events.map((e: { id: string }) => e.id));
        if (body.next === null) break;
        cursor = encodeURIComponent(body.next);
      }
      assert.deepEqual(seen, all.body.events.map((e: { id: string }) => e.id));

      // Filters.
      const dead = await c.get("/api/events?status=dead");
      assert.deepEqual(dead.body.events.map((e: { id: string }) => e.id), ["ord_bad"]);
      assert.match(dead.body.events[0].last_error, /exit|3/);
      const github = await c.get("/api/events?provider=github");
      assert.deepEqual(github.body.events.map((e: { type: string }) => e.type), ["push"]);
      const byType = await c.get("/api/events?type=order.failed&webhook=orders");
      assert.equal(byType.body.events.length, 1);
      const since = all.body.events[2].received_at;
      const recent = await c.get(`/api/events?since=${since}`);
      assert.ok(
        recent.body.events.every((e: { received_at: number }) => e.received_at >= since),
      );
      const search = await c.get("/api/events?q=ord_");
      assert.equal(search.body.events.length, 7);
      assert.equal(search.body.events[0].id, "ord_xss");
      const exact = await c.get("/api/events?q=gh-delivery-1");
      assert.deepEqual(exact.body.events.map((e: { id: string }) => e.id), ["gh-delivery-1"]);

      // Bad input: 400 naming what is wrong.
      for (
        const [query, names] of [
          ["status=sleeping", /status "sleeping"/],
          ["since=yesterday", /since "yesterday"/],
          ["limit=500", /limit 500: give 1 to 200/],
          ["cursor=%21%21", /cursor/],
        ] as const
      ) {
        const bad = await c.get(`/api/events?${query}`);
        assert.equal(bad.status, 400, query);
        assert.equal(bad.body.error, "bad_request");
        assert.match(bad.body.message, names);
      }

      // One GitHub event: the headers that matter, never the signature.
      const detail = await c.get("/api/events/github/gh-delivery-1");
      assert.equal(detail.status, 200);
      assert.equal(detail.body.event.headers["x-github-delivery"], "gh-delivery-1");
      assert.equal(detail.body.event.headers["x-github-event"], "push");
      assert.equal(detail.body.event.headers["content-type"], "application/json");
      assert.ok(!("x-hub-signature-256" in detail.body.event.headers));
      assert.ok(!/x-hub-signature|sha256=/.test(detail.text), detail.text);
      assert.deepEqual(JSON.parse(detail.body.event.payload), { ref: "refs/heads/main" });
      assert.equal(detail.body.attempts.length, 1);
      assert.equal(detail.body.attempts[0].outcome, "ok");
      assert.match(detail.body.attempts[0].output, /handled fine/);
      assert.deepEqual(detail.body.actions, { retry: false, replay: true });
      // The hmac webhook keeps neither its signature header.
      const shop = await c.get("/api/events/shop/ord_bad");
      assert.ok(!Object.keys(shop.body.event.headers).some((h) => /signature/i.test(h)));
      assert.deepEqual(shop.body.actions, { retry: true, replay: false });
      assert.equal(shop.body.attempts[0].outcome, "error");
      assert.match(shop.body.attempts[0].output, /about to fail/);

      // The XSS payload is JSON text: the characters, as sent.
      const xssDetail = await c.get("/api/events/shop/ord_xss");
      assert.equal(JSON.parse(xssDetail.body.event.payload).note, xss);

      // Ids are URL-encoded in the path; unknown ones are 404.
      const missing = await c.get("/api/events/shop/nope%2Fslash");
      assert.deepEqual([missing.status, missing.body.error], [404, "not_found"]);

      for (const text of c.answers) {
        for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret));
      }
    } finally {
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});

Deno.test("console API: retry and replay re-run events; dead groups and bulk retry", async () => {
  const project = await consoleProject();
  try {
    const c = await project.start();
    try {
      assert.equal(await c.shop("ord_ok", "order.created"), 200);
      for (const id of ["f1", "f2", "f3"]) assert.equal(await c.shop(id, "order.failed"), 200);
      assert.equal(await c.shop("r1", "order.refused"), 200);
      await c.until("/api/counts", (b) => b.done === 1 && b.dead === 4);

      // Replay a done event: pending at once, then a second attempt appears.
      const replay = await c.post("/api/events/shop/ord_ok/replay");
      assert.deepEqual([replay.status, replay.body], [200, { ok: true, status: "pending" }]);
      const replayed = await c.until(
        "/api/events/shop/ord_ok",
        (b) => b.attempts.length === 2 && b.event.status === "done",
      );
      assert.equal(replayed.event.source, "replay");
      assert.deepEqual(replayed.attempts.map((a: { outcome: string }) => a.outcome), ["ok", "ok"]);
      // A done event is not retryable; a dead one not replayable.
      const wrongRetry = await c.post("/api/events/shop/ord_ok/retry");
      assert.deepEqual([wrongRetry.status, wrongRetry.body.error], [409, "not_retryable"]);
      assert.match(
        wrongRetry.body.message,
        /^a done event cannot be retried \(only failed, dead, unhandled, ignored ones\)/,
      );
      const wrongReplay = await c.post("/api/events/shop/f1/replay");
      assert.deepEqual([wrongReplay.status, wrongReplay.body.error], [409, "not_replayable"]);
      const none = await c.post("/api/events/shop/nothing/retry");
      assert.deepEqual([none.status, none.body.error], [404, "not_found"]);
      assert.equal(none.body.message, "no event nothing of provider shop in the store");
      // The wrong method: 405 naming the one the path takes.
      const getRetry = await c.get("/api/events/shop/f1/retry");
      assert.deepEqual([getRetry.status, getRetry.body.message], [
        405,
        "/api/events/shop/f1/retry takes POST",
      ]);
      const postCounts = await c.post("/api/counts");
      assert.deepEqual([postCounts.status, postCounts.body.message], [
        405,
        "/api/counts takes GET",
      ]);

      // Retry a dead one: it runs again (and fails again: a second attempt).
      const retry = await c.post("/api/events/shop/f1/retry");
      assert.deepEqual([retry.status, retry.body], [200, { ok: true, status: "pending" }]);
      await c.until(
        "/api/events/shop/f1",
        (b) => b.attempts.length === 2 && b.event.status === "dead",
      );

      // Dead groups, largest first, with the newest error.
      const groups = await c.get("/api/dead");
      assert.equal(groups.status, 200);
      assert.deepEqual(
        groups.body.groups.map((g: { provider: string; type: string; count: number }) => [
          g.provider,
          g.type,
          g.count,
        ]),
        [["shop", "order.failed", 3], ["shop", "order.refused", 1]],
      );
      assert.match(groups.body.groups[0].last_error, /3/);
      assert.ok(groups.body.groups[0].newest_at > 0);

      // Bulk retry of one type, then of everything dead.
      const one = await c.post("/api/dead/retry", { provider: "shop", type: "order.refused" });
      assert.deepEqual([one.status, one.body], [200, { requeued: 1 }]);
      await c.until("/api/events/shop/r1", (b) => b.attempts.length === 2);
      await c.until("/api/counts", (b) => b.dead === 4 && b.pending === 0 && b.running === 0);
      const bulk = await c.post("/api/dead/retry", {});
      assert.deepEqual([bulk.status, bulk.body], [200, { requeued: 4 }]);
      await c.until(
        "/api/events/shop/f2",
        (b) => b.attempts.length === 2 && b.event.status === "dead",
      );
      const badBody = await c.post("/api/dead/retry", { status: "dead" });
      assert.equal(badBody.status, 400);
      assert.match(badBody.body.message, /unknown field "status"/);
    } finally {
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});

Deno.test("console API: throughput buckets count real deliveries and outcomes; handlers table", async () => {
  const project = await consoleProject();
  try {
    const c = await project.start();
    try {
      for (let i = 0; i < 4; i++) assert.equal(await c.shop(`t${i}`, "order.created"), 200);
      assert.equal(await c.shop("tf", "order.failed"), 200);
      await c.until("/api/counts", (b) => b.done === 4 && b.dead === 1);
      for (const [range, bucket, count] of [["hour", 60_000, 60], ["day", 900_000, 96]] as const) {
        const { status, body } = await c.get(`/api/throughput?range=${range}`);
        assert.equal(status, 200);
        assert.equal(body.bucket_ms, bucket);
        assert.equal(body.buckets.length, count);
        assert.equal(body.to - body.from, bucket * count);
        assert.ok(body.from <= Date.now() && Date.now() < body.to);
        body.buckets.forEach((b: { t: number }, i: number) => {
          assert.equal(b.t, body.from + i * bucket);
        });
        const sum = (field: string) =>
          body.buckets.reduce((n: number, b: Record<string, number>) => n + b[field], 0);
        assert.deepEqual(
          ["received", "ok", "error", "timeout", "crashed"].map(sum),
          [5, 4, 1, 0, 0],
          range,
        );
        assert.deepEqual(body.backlog, {
          pending: 0,
          failed: 0,
          running: 0,
          dead: 1,
          oldest_waiting_at: null,
        });
      }
      // A name that is not a range (not even one of Object's own properties) is a 400.
      for (const range of ["week", "toString", "__proto__"]) {
        const bad = await c.get(`/api/throughput?range=${range}`);
        assert.deepEqual([bad.status, bad.body.error], [400, "bad_request"], range);
        assert.equal(bad.body.message, `range "${range}": use hour or day`);
      }

      const { body: table } = await c.get("/api/handlers");
      assert.equal(table.running, true);
      assert.deepEqual(
        table.handlers.map((h: Record<string, unknown>) => [h.provider, h.type, h.kind, h.error]),
        [
          ["github", "_default", "executable", null],
          ["shop", "order.created", "executable", null],
          ["shop", "order.failed", "executable", null],
          ["shop", "order.refused", "executable", null],
        ],
      );
      assert.match(table.handlers[1].file, /handlers\/shop\/order\.created\.sh$/);
      assert.deepEqual(table.errors, []);
    } finally {
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});
