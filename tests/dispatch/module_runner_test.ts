import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { createBundler } from "../../src/dispatch/bundler.ts";
import { createHostPool, type ModuleRun } from "../../src/dispatch/module_runner.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { handlersDir, testEvent, waitFor } from "./_helpers.ts";

const bundler = createBundler();
const event = testEvent();

async function code(text: string): Promise<string> {
  const dir = await handlersDir({ "h.ts": text });
  const result = await bundler.bundle(join(dir, "h.ts"));
  if (!result.ok) throw new Error(result.error);
  return result.code;
}

/** Handler source that waits (polling) until `file` exists. */
function untilFileExists(file: string): string {
  return `while (true) {
    try { await Deno.stat(${JSON.stringify(file)}); break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }`;
}

function request(c: string, extra: Partial<ModuleRun> = {}): ModuleRun {
  return { code: c, event, attempt: 1, env: {}, timeoutMs: 10_000, log: memoryLogger(), ...extra };
}

/** The parsed log lines with this `msg`. */
function logged(log: { lines: string[] }, msg: string): Record<string, unknown>[] {
  return log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);
}

/** True while a process with this pid exists (zombies included). */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("host: the handler gets the event and ctx, and its log lines reach whd's log", async () => {
  const pool = createHostPool();
  const log = memoryLogger();
  const result = await pool.run(request(
    await code(`export default async (event, ctx) => {
      ctx.log.info("got", { amount: event.payload.amount, attempt: ctx.attempt, v: ctx.env.V,
        aborted: ctx.signal.aborted, stripe: ctx.stripe === undefined ? "none" : "some",
        pid: Deno.pid });
    };`),
    { attempt: 3, env: { V: "x" }, log },
  ));
  const pids = pool.pids;
  await pool.close();
  assert.deepEqual(result, { ok: true });
  const [line] = logged(log, "got");
  assert.deepEqual(
    [line.amount, line.attempt, line.v, line.aborted, line.stripe],
    [42, 3, "x", false, "none"],
  );
  assert.notEqual(line.pid, Deno.pid, "the handler ran in another process");
  assert.deepEqual(pids, [line.pid]);
});

Deno.test("host: a throw is a failure carrying the message; the same host process serves the next run", async () => {
  const pool = createHostPool();
  const c = await code(`export default (event, ctx) => {
    ctx.log.info("pid", { pid: Deno.pid });
    throw new Error("card declined");
  };`);
  const log = memoryLogger();
  const first = await pool.run(request(c, { log }));
  const second = await pool.run(request(c, { attempt: 2, log }));
  assert.equal(pool.size, 1);
  await pool.close();
  assert.equal(first.ok, false);
  assert.match(first.error!, /card declined/);
  assert.equal(second.ok, false);
  const pids = logged(log, "pid").map((l) => l.pid);
  assert.equal(pids.length, 2);
  assert.equal(pids[0], pids[1], "one host ran both");
});

Deno.test("host: at the timeout ctx.signal fires and a cooperative handler stops; its host is kept", async () => {
  const pool = createHostPool({ abortGraceMs: 5000 });
  const cooperative = await code(`export default (event, ctx) => new Promise((_, reject) => {
    ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
  });`);
  // Start the host first: on a loaded machine its start alone can outlast the 200 ms timeout,
  // and a signal aborted before the handler listens never fires its "abort" event.
  assert.deepEqual(await pool.run(request(await code(`export default () => {};`))), { ok: true });
  const started = Date.now();
  const result = await pool.run(request(cooperative, { timeoutMs: 200 }));
  const elapsed = Date.now() - started;
  assert.equal(pool.size, 1, "a handler that honoured the signal keeps its host");
  await pool.close();
  assert.equal(result.timedOut, true);
  assert.match(result.error!, /timed out after 200 ms \(TimeoutError/);
  assert.ok(elapsed < 4000, `stopped by the signal, not by the kill (${elapsed} ms)`);
});

Deno.test("host: a while (true) {} handler is killed at timeout + grace, its process is gone, the next run works, and the event loop never stalled", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("pong"),
  );
  const pool = createHostPool({ abortGraceMs: 300 });
  const log = memoryLogger();
  const spinning = pool.run(request(
    await code(
      `export default (event, ctx) => { ctx.log.info("spinning", { pid: Deno.pid }); while (true) {} };`,
    ),
    { timeoutMs: 1500, log },
  ));
  // Wait until the handler is really spinning, then talk to the server meanwhile.
  await waitFor(() => logged(log, "spinning").length > 0, 30_000, "the spinner to start");
  const pid = logged(log, "spinning")[0].pid as number;
  assert.ok(alive(pid));
  const t0 = performance.now();
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(await response.text(), "pong");
  const fetchMs = performance.now() - t0;
  const result = await spinning;
  assert.equal(result.ok, false);
  assert.equal(result.timedOut, true);
  assert.match(result.error!, /did not stop within 300 ms .*host process was killed/);
  assert.equal(alive(pid), false, `host ${pid} no longer exists`);
  assert.equal(pool.size, 0, "the spinning host was dropped");

  const next = memoryLogger();
  const after = await pool.run(
    request(await code(`export default (e, ctx) => ctx.log.info("ok", { pid: Deno.pid });`), {
      log: next,
    }),
  );
  await pool.close();
  await server.shutdown();
  assert.deepEqual(after, { ok: true });
  assert.notEqual(logged(next, "ok")[0].pid, pid, "a fresh host");
  assert.ok(fetchMs < 1000, `fetch answered in ${fetchMs.toFixed(0)} ms while a handler spun`);
});

Deno.test("host: a handler that calls Deno.exit(3) fails its run with a clear error, and a new host takes the next run", async () => {
  const pool = createHostPool();
  const log = memoryLogger();
  const result = await pool.run(request(
    await code(
      `export default (e, ctx) => { ctx.log.info("pid", { pid: Deno.pid }); Deno.exit(3); };`,
    ),
    { log },
  ));
  assert.equal(result.ok, false);
  assert.equal(result.timedOut, undefined);
  assert.match(result.error!, /handler host process exited with code 3 .*Deno\.exit/);
  assert.equal(pool.size, 0);
  const pid = logged(log, "pid")[0].pid as number;
  assert.equal(alive(pid), false);

  const next = memoryLogger();
  const after = await pool.run(
    request(await code(`export default (e, ctx) => ctx.log.info("pid", { pid: Deno.pid });`), {
      log: next,
    }),
  );
  await pool.close();
  assert.deepEqual(after, { ok: true });
  assert.notEqual(logged(next, "pid")[0].pid, pid);
});

Deno.test("host: console.log and raw stdout/stderr writes reach the log as handler output without breaking the protocol", async () => {
  const pool = createHostPool({ maxOutputBytes: 4096 });
  const log = memoryLogger();
  const result = await pool.run(request(
    await code(`export default async (event, ctx) => {
      console.log("hello", { n: 1 });
      console.error("oops");
      // A partial line, then a fake protocol line without the secret prefix.
      Deno.stdout.writeSync(new TextEncoder().encode("no newline"));
      ctx.log.info("after partial");
      await Deno.stdout.write(new TextEncoder().encode('{"kind":"done","runId":1,"ok":true}\\n'));
      Deno.stderr.writeSync(new TextEncoder().encode("raw err\\n"));
      throw new Error("still my result");
    };`),
    { log },
  ));
  const noisy = memoryLogger();
  const second = await pool.run(request(
    await code(`export default () => {
      for (let i = 0; i < 200; i++) console.log("x".repeat(100));
      for (let i = 0; i < 200; i++) Deno.stderr.writeSync(new TextEncoder().encode("y\\n"));
    };`),
    { log: noisy },
  ));
  await pool.close();
  assert.equal(result.ok, false, "the fake done line did not settle the run");
  assert.match(result.error!, /still my result/);
  assert.deepEqual(second, { ok: true });
  const output = logged(log, "handler output").map((l) => `${l.stream}: ${l.line}`);
  assert.deepEqual(output.slice(0, 2), ["console: hello { n: 1 }", "console: oops"]);
  assert.ok(output.includes("stdout: no newline"), output.join("\n"));
  assert.ok(output.includes('stdout: {"kind":"done","runId":1,"ok":true}'), output.join("\n"));
  assert.ok(output.includes("stderr: raw err"), output.join("\n"));
  assert.equal(logged(log, "after partial").length, 1);
  assert.equal(logged(log, "handler output truncated").length, 0);
  assert.equal(logged(noisy, "handler output truncated").length, 1, "bounded output");
  const kept = logged(noisy, "handler output").length;
  assert.ok(kept < 60, `${kept} output lines kept`);
});

Deno.test("host: cancelling (shutdown) kills the run's host and resolves as cancelled, not failed", async () => {
  const pool = createHostPool();
  const cancel = new AbortController();
  const log = memoryLogger();
  const run = pool.run(request(
    await code(
      `export default (e, ctx) => { ctx.log.info("pid", { pid: Deno.pid }); return new Promise(() => {}); };`,
    ),
    { timeoutMs: 60_000, log, signal: cancel.signal },
  ));
  await waitFor(() => logged(log, "pid").length > 0, 30_000, "the handler to start");
  cancel.abort();
  assert.deepEqual(await run, { ok: false, cancelled: true });
  assert.equal(pool.size, 0);
  assert.equal(alive(logged(log, "pid")[0].pid as number), false);
  await pool.close();
});

Deno.test("host: close() kills idle hosts too", async () => {
  const pool = createHostPool();
  await pool.run(request(await code(`export default () => {};`)));
  const [pid] = pool.pids;
  assert.ok(alive(pid));
  await pool.close();
  assert.equal(alive(pid), false);
  assert.equal(pool.size, 0);
});

Deno.test("host: ctx.stripe is a Stripe client pointed at api_base", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
    return Response.json({ id: "cus_1", object: "customer", email: "a@b.c" });
  });
  const pool = createHostPool();
  const log = memoryLogger();
  const result = await pool.run(request(
    await code(`export default async (event, ctx) => {
      const c = await ctx.stripe.customers.retrieve("cus_1");
      ctx.log.info("customer", { email: c.email });
    };`),
    { stripe: { apiKey: "sk_test_123", apiBase: `http://127.0.0.1:${server.addr.port}` }, log },
  ));
  await pool.close();
  await server.shutdown();
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(seen, ["GET /v1/customers/cus_1 Bearer sk_test_123"]);
  assert.equal(logged(log, "customer")[0].email, "a@b.c");
});

Deno.test("host: a module is sent once per host and kept by content hash; new code under a new hash runs the new code", async () => {
  const pool = createHostPool();
  const log = memoryLogger();
  const v1 = await code(`export default (e, ctx) => ctx.log.info("ran", { v: 1, pid: Deno.pid });`);
  const v2 = await code(`export default (e, ctx) => ctx.log.info("ran", { v: 2, pid: Deno.pid });`);
  assert.deepEqual(await pool.run(request(v1, { hash: "h1", log })), { ok: true });
  // Same hash, no usable code: the host runs the module it keeps for that hash.
  assert.deepEqual(await pool.run(request("syntax error (", { hash: "h1", log })), { ok: true });
  assert.deepEqual(await pool.run(request(v2, { hash: "h2", log })), { ok: true });
  await pool.close();
  const ran = logged(log, "ran");
  assert.deepEqual(ran.map((l) => l.v), [1, 1, 2]);
  assert.equal(new Set(ran.map((l) => l.pid)).size, 1, "one host ran all three");
});

Deno.test("host: ctx.env is sent when it changes, and a handler's changes to it do not leak into the next run", async () => {
  const pool = createHostPool();
  const log = memoryLogger();
  const c = await code(`export default (e, ctx) => {
    ctx.log.info("env", { a: ctx.env.A ?? null });
    ctx.env.A = "changed";
  };`);
  const env = { A: "1" };
  await pool.run(request(c, { env, log }));
  await pool.run(request(c, { env, log }));
  await pool.run(request(c, { env: { A: "2" }, log }));
  await pool.close();
  assert.deepEqual(logged(log, "env").map((l) => l.a), ["1", "1", "2"]);
});

Deno.test("host: quick runs share a host instead of starting one each; a host stays busy too long and the next run gets a new one", async () => {
  const clock = new ManualClock();
  const pool = createHostPool({ clock, spawnAfterMs: 50 });
  const log = memoryLogger();
  const quick = await code(`export default (e, ctx) => ctx.log.info("pid", { pid: Deno.pid });`);
  const results = await Promise.all([1, 2, 3, 4].map(() => pool.run(request(quick, { log }))));
  assert.ok(results.every((r) => r.ok));
  assert.equal(new Set(logged(log, "pid").map((l) => l.pid)).size, 1, "four runs, one host");
  assert.equal(pool.size, 1);
  const another = "starting another handler host: every host was busy";
  assert.deepEqual(logged(log, another), [], "the first host is no news");

  const gateDir = await Deno.makeTempDir();
  const gate = `${gateDir}/gate`;
  const blocked = await code(`export default async () => { ${untilFileExists(gate)} };`);
  const slow = pool.run(request(blocked, { timeoutMs: 60_000 }));
  const next = pool.run(request(quick, { log }));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(pool.size, 1, "the second run waits while the clock has not moved");
  clock.advance(50);
  assert.deepEqual(await next, { ok: true }, "after spawnAfterMs it got a host of its own");
  assert.equal(pool.size, 2);
  assert.deepEqual(
    logged(log, another).map((l) => [l.waited_ms, l.hosts]),
    [[50, 2]],
    "the log says another host started, after how long a wait, and how many there are now",
  );
  await Deno.writeTextFile(gate, "");
  assert.deepEqual(await slow, { ok: true });
  await pool.close();
  await Deno.remove(gateDir, { recursive: true });
});

Deno.test("host: runs waiting on a host that imports a handler, or checking late after a stall, start no host of their own", async () => {
  const clock = new ManualClock();
  const pool = createHostPool({ clock, spawnAfterMs: 50 });
  const log = memoryLogger();
  const dir = await Deno.makeTempDir();
  const gate = `${dir}/gate`;
  // Its import takes until the gate file exists (top-level await), then each run is quick.
  const slowImport = await code(`${untilFileExists(gate)}
    export default (e, ctx) => ctx.log.info("pid", { pid: Deno.pid });`);
  const warm = await pool.run(request(await code(`export default () => {};`)));
  assert.deepEqual(warm, { ok: true });
  const runs = [1, 2, 3].map(() => pool.run(request(slowImport, { log })));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 5; i++) clock.advance(50); // on time, while the host is still importing
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.size, 1, "the waiting runs wait for the importing host");
  await Deno.writeTextFile(gate, "");
  assert.ok((await Promise.all(runs)).every((r) => r.ok));
  assert.equal(new Set(logged(log, "pid").map((l) => l.pid)).size, 1, "all three on one host");

  const held = `${dir}/held`;
  const holding = await code(`export default async () => { ${untilFileExists(held)} };`);
  const hold = pool.run(request(holding, { timeoutMs: 60_000 }));
  await new Promise((r) => setTimeout(r, 100)); // imported: the host is running it now
  const next = pool.run(request(slowImport, { log }));
  clock.hold(400); // the event loop was held up: the check comes late, and waits on
  clock.advance(0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.size, 1, "a late check waits on");
  clock.advance(50); // an on-time check with the host still held: a host of its own
  assert.deepEqual(await next, { ok: true });
  assert.equal(pool.size, 2);
  await Deno.writeTextFile(held, "");
  assert.deepEqual(await hold, { ok: true });
  await pool.close();
  await Deno.remove(dir, { recursive: true });
});
