/**
 * A client that sends its headers and half a body, then closes the connection: whd logs one
 * debug line for it, no stack trace, and goes on serving.
 */
import assert from "node:assert/strict";
import { jsonLines, project } from "./_project.ts";

async function halfRequest(port: number, headers: string, partial: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `POST /hooks/shop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `X-Shop-Signature: sha256=00\r\n${headers}\r\n${partial}`,
  ));
  // Let whd start reading the body before the connection goes away.
  await new Promise((r) => setTimeout(r, 200));
  conn.close();
}

Deno.test("disconnect: half a body then close (sized and chunked) → one debug line each, no trace", async () => {
  const p = await project();
  try {
    const server = await p.start();
    try {
      await halfRequest(server.port, "Content-Length: 100\r\n", '{"id":"evt_half","ty');
      await halfRequest(server.port, "Transfer-Encoding: chunked\r\n", '10\r\n{"id":"evt_half"');
      await new Promise((r) => setTimeout(r, 300));
      const health = await fetch(`${server.url}/healthz`);
      assert.deepEqual([health.status, await health.json()], [200, { ok: true }]);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    const logs = server.logs();
    assert.doesNotMatch(logs, /BadResource|^\s+at /m, logs);
    assert.ok(logs.split("\n").every((l) => l === "" || l.startsWith("{")), logs);
    const gone = jsonLines(logs).filter((l) => l.msg === "client disconnected mid-request");
    assert.equal(gone.length, 2, logs);
    assert.ok(gone.every((l) => l.level === "debug"));
  } finally {
    await p.remove();
  }
});
