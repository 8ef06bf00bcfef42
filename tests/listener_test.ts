/**
 * The listener under `whd serve`, with a plain handler: what its request loop guarantees beyond
 * the limits the reliability suite attacks.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { listen } from "../src/http/listener.ts";
import { systemClock } from "../src/clock.ts";
import { memoryLogger } from "../src/ops/log.ts";

const limits = {
  headerTimeoutMs: 5_000,
  bodyTimeoutMs: 5_000,
  idleTimeoutMs: 5_000,
  maxConnections: 64,
  maxHeaderBytes: 16_384,
};

Deno.test("an HTTP/2 client multiplexing on one connection has its requests handled one at a time", async () => {
  let running = 0;
  let most = 0;
  const listener = listen(
    {
      hostname: "127.0.0.1",
      port: 0,
      limits,
      log: memoryLogger(),
      clock: systemClock,
      onError: () => new Response("error", { status: 500 }),
    },
    async (request) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return new Response(new URL(request.url).pathname);
    },
  );
  // HTTP/2 over cleartext with prior knowledge: four streams on one connection at once.
  const client = http2.connect(`http://127.0.0.1:${listener.addr.port}`);
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const stream = client.request({ ":path": path, ":method": "GET" });
      let text = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => text += chunk);
      stream.on("end", () => resolve(text));
      stream.on("error", reject);
      stream.end();
    });
  const answers = await Promise.all(["/a", "/b", "/c", "/d"].map(get));
  client.close();
  await listener.shutdown();
  assert.deepEqual(answers, ["/a", "/b", "/c", "/d"], "every stream answered");
  assert.equal(most, 1, "never two requests of one connection at once (one body held at a time)");
});
