import assert from "node:assert/strict";
import { headBytes, runtimeHeaderList } from "../src/http/head_bytes.ts";

/** Serves one raw HTTP/1.1 request on loopback; returns what `inspect` made of it. */
async function serveOnce<T>(head: string, inspect: (request: Request) => T): Promise<T> {
  let seen: T | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen = inspect(request);
    return new Response("ok");
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await conn.write(new TextEncoder().encode(head));
      const buffer = new Uint8Array(4096);
      const read = await conn.read(buffer);
      assert.match(new TextDecoder().decode(buffer.subarray(0, read ?? 0)), /^HTTP\/1\.1 200 /);
    } finally {
      conn.close();
    }
  } finally {
    await server.shutdown();
  }
  assert.ok(seen !== undefined, "the request reached the handler");
  return seen;
}

const HEADERS: [string, string][] = [
  ["Host", "127.0.0.1"],
  ["Stripe-Signature", "t=1700000000,v1=" + "a".repeat(64)],
  ["X-Dup", "first"],
  ["X-Dup", "second"],
  ["Content-Length", "0"],
];
const HEAD = `POST /stripe HTTP/1.1\r\n${HEADERS.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;

Deno.test("head bytes: a served request counts every header line it was sent, repeated names too", async () => {
  const { size, url } = await serveOnce(HEAD, (r) => ({ size: headBytes(r), url: r.url }));
  const lines = HEADERS.reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
  assert.equal(size, "POST".length + url.length + 12 + lines);
});

Deno.test("head bytes: this Deno serves requests with the runtime's own header list (re-check on a Deno upgrade)", async () => {
  const list = await serveOnce(HEAD, (r) => runtimeHeaderList(r.headers));
  assert.ok(list, "no runtime header list: headBytes falls back to Headers.forEach (slower)");
  assert.deepEqual(
    list.map(([name, value]) => `${name}: ${value}`),
    HEADERS.map(([name, value]) => `${name}: ${value}`), // as sent, in order
  );
});

Deno.test("head bytes: a request built in JavaScript is counted through Headers", () => {
  const request = new Request("http://localhost/stripe", {
    method: "POST",
    headers: { "x-a": "1", "content-type": "application/json" },
  });
  assert.equal(runtimeHeaderList(request.headers), undefined);
  const expected = "POST".length + request.url.length + 12 + (3 + 1 + 4) + (12 + 16 + 4);
  assert.equal(headBytes(request), expected);
});
