import assert from "node:assert/strict";
import { join } from "node:path";
import { createBundler } from "../../src/dispatch/bundler.ts";
import { createWorkerPool } from "../../src/dispatch/module_runner.ts";
import type { Event } from "../../src/event.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { handlersDir } from "./_helpers.ts";

const bundler = createBundler();
const event: Event = {
  id: "evt_1",
  provider: "stripe",
  webhook: "main",
  type: "invoice.paid",
  payload: { amount: 42 },
  received_at: new Date(0).toISOString(),
  source: "delivery",
};

async function code(text: string): Promise<string> {
  const dir = await handlersDir({ "h.ts": text });
  const result = await bundler.bundle(join(dir, "h.ts"));
  if (!result.ok) throw new Error(result.error);
  return result.code;
}

Deno.test("worker: the handler gets the event and ctx, and its log lines reach whd's log", async () => {
  const pool = createWorkerPool();
  const log = memoryLogger();
  const result = await pool.run({
    code: await code(`export default async (event, ctx) => {
      ctx.log.info("got", { amount: event.payload.amount, attempt: ctx.attempt, v: ctx.env.V,
        aborted: ctx.signal.aborted, stripe: ctx.stripe === undefined ? "none" : "some" });
    };`),
    event,
    attempt: 3,
    env: { V: "x" },
    timeoutMs: 5000,
    log,
  });
  pool.close();
  assert.deepEqual(result, { ok: true });
  const line = JSON.parse(log.lines[0]);
  assert.equal(line.msg, "got");
  assert.deepEqual(
    [line.amount, line.attempt, line.v, line.aborted, line.stripe],
    [42, 3, "x", false, "none"],
  );
});

Deno.test("worker: a throw is a failure carrying the message; the worker is reused", async () => {
  const pool = createWorkerPool();
  const c = await code(`export default () => { throw new Error("card declined"); };`);
  const log = memoryLogger();
  const first = await pool.run({ code: c, event, attempt: 1, env: {}, timeoutMs: 5000, log });
  const second = await pool.run({ code: c, event, attempt: 2, env: {}, timeoutMs: 5000, log });
  assert.equal(pool.size, 1);
  pool.close();
  assert.equal(first.ok, false);
  assert.match(first.error!, /card declined/);
  assert.equal(second.ok, false);
});

Deno.test("worker: at the timeout ctx.signal fires and a cooperative handler stops", async () => {
  const pool = createWorkerPool({ abortGraceMs: 5000 });
  const started = Date.now();
  const result = await pool.run({
    code: await code(`export default (event, ctx) => new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
    });`),
    event,
    attempt: 1,
    env: {},
    timeoutMs: 200,
    log: memoryLogger(),
  });
  const elapsed = Date.now() - started;
  assert.equal(pool.size, 1, "a handler that honoured the signal keeps its worker");
  pool.close();
  assert.equal(result.timedOut, true);
  assert.match(result.error!, /timed out after 200 ms \(TimeoutError/);
  assert.ok(elapsed < 4000, `stopped by the signal, not by the kill (${elapsed} ms)`);
});

Deno.test("worker: a spinning handler is terminated and does not stop the event loop", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("pong"),
  );
  const pool = createWorkerPool({ abortGraceMs: 300 });
  const log = memoryLogger();
  const spinning = pool.run({
    code: await code(
      `export default (event, ctx) => { ctx.log.info("spinning"); while (true) {} };`,
    ),
    event,
    attempt: 1,
    env: {},
    timeoutMs: 1500,
    log,
  });
  // Wait until the handler is really spinning, then talk to the server meanwhile.
  while (!log.lines.some((l) => l.includes("spinning"))) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const t0 = performance.now();
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(await response.text(), "pong");
  const fetchMs = performance.now() - t0;
  const result = await spinning;
  assert.equal(pool.size, 0, "the spinning worker was terminated");
  pool.close();
  await server.shutdown();
  assert.ok(fetchMs < 1000, `fetch answered in ${fetchMs.toFixed(0)} ms while a handler spun`);
  assert.equal(result.ok, false);
  assert.equal(result.timedOut, true);
});

Deno.test("worker: cancelling (shutdown) terminates the run as cancelled, not failed", async () => {
  const pool = createWorkerPool();
  const cancel = new AbortController();
  const run = pool.run({
    code: await code(`export default () => new Promise(() => {});`),
    event,
    attempt: 1,
    env: {},
    timeoutMs: 60_000,
    log: memoryLogger(),
    signal: cancel.signal,
  });
  cancel.abort();
  assert.deepEqual(await run, { ok: false, cancelled: true });
  assert.equal(pool.size, 0);
  pool.close();
});

Deno.test("worker: ctx.stripe is a Stripe client pointed at api_base", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
    return Response.json({ id: "cus_1", object: "customer", email: "a@b.c" });
  });
  const pool = createWorkerPool();
  const log = memoryLogger();
  const result = await pool.run({
    code: await code(`export default async (event, ctx) => {
      const c = await ctx.stripe.customers.retrieve("cus_1");
      ctx.log.info("customer", { email: c.email });
    };`),
    event,
    attempt: 1,
    env: {},
    stripe: { apiKey: "sk_test_123", apiBase: `http://127.0.0.1:${server.addr.port}` },
    timeoutMs: 10_000,
    log,
  });
  pool.close();
  await server.shutdown();
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(seen, ["GET /v1/customers/cus_1 Bearer sk_test_123"]);
  assert.equal(JSON.parse(log.lines[0]).email, "a@b.c");
});
