/**
 * IP allowlists and rate limits as a sender meets them: real HTTP through whd's own server.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { ManualClock } from "../src/clock.ts";
import { startTestServer } from "./helpers/test_server.ts";

const SECRET = "acme-guard-secret-7c1e";

function config(guards: string, server = ""): string {
  return `
server:
  max_body_bytes: 1024
${server}
providers:
  acme:
    type: hmac
    webhooks:
      default:
        path: /hooks/acme
        signing_secret_env: ACME_SECRET
        signature_header: X-Sig
        id_path: /id
        type_path: /type
${guards}
`;
}

function delivery(id: string, headers: Record<string, string> = {}): RequestInit {
  const body = JSON.stringify({ id, type: "thing.happened" });
  return {
    method: "POST",
    headers: { "x-sig": createHmac("sha256", SECRET).update(body).digest("hex"), ...headers },
    body,
  };
}

Deno.test("a burst sees exactly burst_limit accepted, then 429 with a sane Retry-After and nothing stored", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startTestServer(
    config("        rate_limit: { requests_per_minute: 6, burst_limit: 3 }"),
    { ACME_SECRET: SECRET },
    { clock },
  );
  try {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${server.url}/hooks/acme`, delivery(`e${i}`));
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get("retry-after");
        assert.equal((await response.json()).error, "rate_limited");
      } else await response.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    // 6 per minute refills one token every 10 s.
    assert.equal(retryAfter, "10");
    assert.equal((await server.inbox.list()).length, 3);
    assert.equal(
      server.metrics.get("whd_rejected_total", {
        provider: "acme",
        webhook: "default",
        reason: "rate_limited",
      }),
      3,
    );

    clock.advance(10_000);
    const refilled = await fetch(`${server.url}/hooks/acme`, delivery("e-after"));
    assert.equal(refilled.status, 200);
    await refilled.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("an address outside the allowlist gets 403 before its body is read, and is counted", async () => {
  const server = await startTestServer(
    config("        ip_allowlist: [203.0.113.0/24]"),
    { ACME_SECRET: SECRET },
  );
  try {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 50) controller.close();
        else controller.enqueue(new Uint8Array(10));
      },
    });
    const response = await fetch(`${server.url}/hooks/acme`, { method: "POST", body });
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error, "forbidden");
    assert.equal((await server.inbox.list()).length, 0);
    assert.equal(
      server.metrics.get("whd_rejected_total", {
        provider: "acme",
        webhook: "default",
        reason: "ip_not_allowed",
      }),
      1,
    );
    assert.ok(
      server.logLines.some((l) => l.includes("address not allowed") && l.includes("127.0.0.1")),
    );
  } finally {
    await server.close();
  }
});

Deno.test("behind a trusted proxy the client address comes from X-Forwarded-For; a spoofed hop changes nothing", async () => {
  const server = await startTestServer(
    config("        ip_allowlist: [198.51.100.7]", "  trusted_proxies: [127.0.0.1/32]"),
    { ACME_SECRET: SECRET },
  );
  try {
    const allowed = await fetch(
      `${server.url}/hooks/acme`,
      delivery("x1", { "x-forwarded-for": "198.51.100.7" }),
    );
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();

    // The sender claims to be the allowed address, but the trusted proxy appended its real one.
    const spoofed = await fetch(
      `${server.url}/hooks/acme`,
      delivery("x2", { "x-forwarded-for": "198.51.100.7, 192.0.2.66" }),
    );
    assert.equal(spoofed.status, 403);
    await spoofed.body?.cancel();
    assert.equal((await server.inbox.find("x2", "acme")).length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("without trusted proxies X-Forwarded-For is ignored", async () => {
  const server = await startTestServer(config("        ip_allowlist: [198.51.100.7]"), {
    ACME_SECRET: SECRET,
  });
  try {
    const response = await fetch(
      `${server.url}/hooks/acme`,
      delivery("y1", { "x-forwarded-for": "198.51.100.7" }),
    );
    assert.equal(response.status, 403);
    await response.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("per_ip rate limits keep one bucket per client address", async () => {
  const server = await startTestServer(
    config(
      "        rate_limit: { requests_per_minute: 60, burst_limit: 1, per_ip: true }",
      "  trusted_proxies: [127.0.0.1]",
    ),
    { ACME_SECRET: SECRET },
    { clock: new ManualClock(Date.now()) },
  );
  try {
    const from = async (ip: string, id: string) => {
      const r = await fetch(`${server.url}/hooks/acme`, delivery(id, { "x-forwarded-for": ip }));
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await from("192.0.2.1", "p1"), 200);
    assert.equal(await from("192.0.2.1", "p2"), 429);
    assert.equal(await from("192.0.2.2", "p3"), 200);
  } finally {
    await server.close();
  }
});
