import assert from "node:assert/strict";
import { ManualClock } from "../src/clock.ts";
import { type Guard, ipGuard, rateLimitGuard } from "../src/http/guards.ts";
import { parseAllowlist } from "../src/http/ip_allowlist.ts";

/** Serves `guard` in front of a 200 "ok" on loopback, runs `body`, then shuts the server down. */
async function withServer(
  guard: Guard,
  body: (url: string, seen: { bodyRead: boolean }) => Promise<void>,
): Promise<void> {
  const seen = { bodyRead: false };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request, info) => {
      const rejection = guard(request, info.remoteAddr.hostname);
      if (rejection) return rejection;
      seen.bodyRead = true;
      await request.body?.cancel();
      return new Response("ok");
    },
  );
  try {
    await body(`http://127.0.0.1:${server.addr.port}/hook`, seen);
  } finally {
    await server.shutdown();
  }
}

async function post(
  url: string,
): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const response = await fetch(url, { method: "POST", body: '{"id":"evt_1"}' });
  return {
    status: response.status,
    body: await response.text(),
    retryAfter: response.headers.get("retry-after"),
  };
}

Deno.test("rate limit: a burst sees exactly burst 200s, then 429s with Retry-After", async () => {
  const clock = new ManualClock();
  const rejected: string[] = [];
  const guard = rateLimitGuard({ requests_per_minute: 6, burst_limit: 3, per_ip: false }, {
    clock,
    onReject: (client) => rejected.push(client),
  });
  await withServer(guard, async (url) => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await post(url));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 429, 429]);
    // 6 per minute: one token every 10 s.
    assert.equal(results[3].retryAfter, "10");
    assert.deepEqual(JSON.parse(results[3].body), { error: "rate_limited", retry_after: 10 });
    assert.deepEqual(rejected, ["127.0.0.1", "127.0.0.1"]);

    clock.advance(10_000);
    assert.deepEqual([(await post(url)).status, (await post(url)).status], [200, 429]);
  });
});

Deno.test("rate limit per_ip keys buckets by client; shared otherwise", () => {
  const clock = new ManualClock();
  const perIp = rateLimitGuard({ requests_per_minute: 60, burst_limit: 1, per_ip: true }, {
    clock,
  });
  const request = new Request("http://whd.test/hook", { method: "POST" });
  assert.equal(perIp(request, "192.0.2.1"), null);
  assert.equal(perIp(request, "192.0.2.1")?.status, 429);
  assert.equal(perIp(request, "192.0.2.2"), null);

  const shared = rateLimitGuard({ requests_per_minute: 60, burst_limit: 1, per_ip: false }, {
    clock,
  });
  assert.equal(shared(request, "192.0.2.1"), null);
  assert.equal(shared(request, "192.0.2.2")?.status, 429);
});

Deno.test("IP allowlist: a denied address gets 403 and the body is never read", async () => {
  const rejected: string[] = [];
  const guard = ipGuard(parseAllowlist(["10.0.0.0/8", "github"]), (c) => rejected.push(c));
  await withServer(guard, async (url, seen) => {
    const result = await post(url);
    assert.equal(result.status, 403);
    const body = JSON.parse(result.body);
    assert.equal(body.error, "forbidden");
    assert.match(body.reason, /127\.0\.0\.1/);
    assert.deepEqual(rejected, ["127.0.0.1"]);
    assert.equal(seen.bodyRead, false);
  });
});

Deno.test("IP allowlist: an allowed address passes, also when listed as mapped IPv6", async () => {
  for (const entries of [["127.0.0.1"], ["127.0.0.0/8"], ["::ffff:127.0.0.1"], []]) {
    const guard = ipGuard(parseAllowlist(entries), () => assert.fail("rejected"));
    await withServer(guard, async (url, seen) => {
      const result = await post(url);
      assert.equal(result.status, 200, JSON.stringify(entries));
      assert.equal(result.body, "ok");
      assert.equal(seen.bodyRead, true);
    });
  }
});
