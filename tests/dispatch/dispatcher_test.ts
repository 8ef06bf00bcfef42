import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { createDispatcher, type DispatcherOptions } from "../../src/dispatch/dispatcher.ts";
import type { Inbox } from "../../src/inbox/types.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import {
  appendLine,
  handlersDir,
  incoming,
  lines,
  scratchDir,
  testConfig,
  waitFor,
  writeFile,
} from "./_helpers.ts";

type Setup = Partial<DispatcherOptions> & { handlers?: Record<string, unknown> };

/** A dispatcher over a real libSQL inbox file in a temp dir. */
async function setup(dir: string, options: Setup = {}) {
  const inbox = options.inbox ??
    await openInbox({ url: `file:${await scratchDir("whd_inbox_")}/whd.db` });
  const log = memoryLogger();
  const metrics = new Metrics();
  const { handlers, ...rest } = options;
  const dispatcher = createDispatcher({
    config: testConfig(dir, handlers),
    inbox,
    log,
    metrics,
    pollMs: 50,
    abortGraceMs: 300,
    debounceMs: 50,
    ...rest,
  });
  return { dispatcher, inbox, log, metrics };
}

async function status(inbox: Inbox, id: string, provider = "stripe") {
  return (await inbox.find(id, provider))[0];
}

/** A handler that appends a line to a file: proves how often it ran. */
const APPEND = (file: string) => `
  import type { Handler } from "../../src/dispatch/handler_types.ts";
  import { appendCount } from "./_append.ts";
  const handler: Handler = async (event, ctx) => {
    await appendCount(${JSON.stringify(file)}, event.id + " " + ctx.attempt);
  };
  export default handler;
`;
const APPEND_HELPER =
  `export async function appendCount(file: string, line: string) { await Deno.writeTextFile(file, line + "\\n", { append: true }); }`;

/** A handlers dir whose `stripe/invoice.paid.ts` appends to `out` (plus `extra` files). */
async function appendingHandlers(extra: Record<string, string> = {}) {
  const out = join(await scratchDir(), "runs.txt");
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": APPEND(out),
    "stripe/_append.ts": APPEND_HELPER,
    ...extra,
  });
  return { out, dir };
}

Deno.test("dispatcher: a TS handler with a relative import runs once and the event is done", async () => {
  const { out, dir } = await appendingHandlers();
  const { dispatcher, inbox, metrics } = await setup(dir);
  await dispatcher.start();
  await inbox.accept(incoming("evt_1", "invoice.paid"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "evt_1")).status === "done", 10_000, "done");
  await dispatcher.stop(1000);
  inbox.close();
  assert.deepEqual(await lines(out), ["evt_1 1"]);
  assert.equal(metrics.get("whd_handler_runs_total", { provider: "stripe", result: "done" }), 1);
});

Deno.test("dispatcher: a throwing handler is retried with backoff, then dead after max_attempts", async () => {
  const out = join(await scratchDir(), "runs.txt");
  const dir = await handlersDir({
    "stripe/_default.ts": `
      export default async (event, ctx) => {
        ${appendLine(out, "ctx.attempt")}
        throw new Error("boom " + ctx.attempt);
      };`,
  });
  const clock = new ManualClock();
  const { dispatcher, inbox } = await setup(dir, {
    clock,
    random: () => 0,
    handlers: { max_attempts: 3, backoff_base_ms: 1000, backoff_max_ms: 60_000 },
  });
  await dispatcher.start();
  await inbox.accept(incoming("evt_2", "charge.failed"));
  dispatcher.notify();
  const t0 = clock.now();
  let row = await waitFor(async () => {
    const r = await status(inbox, "evt_2");
    return r.status === "failed" && r;
  });
  assert.equal(row.attempts, 1);
  assert.equal(row.next_attempt_at, t0 + 500, "first retry after base/2 with zero jitter");
  assert.match(row.last_error!, /boom 1/);

  // Not due yet: polling does nothing.
  clock.advance(499);
  dispatcher.notify();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal((await status(inbox, "evt_2")).attempts, 1);

  clock.advance(1);
  dispatcher.notify();
  row = await waitFor(async () => {
    const r = await status(inbox, "evt_2");
    return r.status === "failed" && r.attempts === 2 && r;
  });
  assert.equal(row.next_attempt_at, clock.now() + 1000, "second retry after 2·base/2");

  clock.advance(1000);
  dispatcher.notify();
  row = await waitFor(async () => {
    const r = await status(inbox, "evt_2");
    return r.status === "dead" && r;
  });
  await dispatcher.stop(1000);
  inbox.close();
  assert.equal(row.attempts, 3);
  assert.match(row.last_error!, /boom 3/);
  assert.deepEqual(await lines(out), ["1", "2", "3"]);
});

Deno.test("dispatcher: a handler that fails to load keeps its events waiting, and a fix runs them", async () => {
  const out = join(await scratchDir(), "runs.txt");
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": `import x from "left-pad";\nexport default () => x;`,
    "stripe/_append.ts": APPEND_HELPER,
  });
  const { dispatcher, inbox, log } = await setup(dir, {
    loadRetryMs: 100,
    handlers: { watch: true },
  });
  await dispatcher.start();
  assert.equal(dispatcher.registry.errors.length, 1);
  assert.ok(
    log.lines.some((l) => l.includes("handler failed to load") && l.includes("left-pad")),
    "reported at start",
  );
  await inbox.accept(incoming("evt_3", "invoice.paid"));
  dispatcher.notify();
  await waitFor(() => log.lines.some((l) => l.includes("event waits")));
  let row = await status(inbox, "evt_3");
  assert.equal(row.status, "pending");
  assert.equal(row.attempts, 0, "a load error does not use up an attempt");

  await writeFile(dir, "stripe/invoice.paid.ts", APPEND(out));
  row = await waitFor(async () => {
    const r = await status(inbox, "evt_3");
    return r.status === "done" && r;
  });
  await dispatcher.stop(1000);
  inbox.close();
  assert.deepEqual(await lines(out), ["evt_3 1"]);
});

Deno.test("dispatcher: hot reload — new deliveries use the edited file", async () => {
  const out = join(await scratchDir(), "runs.txt");
  const handler = (tag: string) =>
    `export default async (e) => { ${appendLine(out, `"${tag} " + e.id`)} };`;
  const dir = await handlersDir({ "github/push.ts": handler("v1") });
  const { dispatcher, inbox } = await setup(dir, { handlers: { watch: true } });
  await dispatcher.start();
  await inbox.accept(incoming("d1", "push", "github"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "d1", "github")).status === "done");

  await writeFile(dir, "github/push.ts", handler("v2"));
  await waitFor(() => dispatcher.registry.handlers[0]?.code?.includes('"v2 "'), 10_000, "reload");
  await inbox.accept(incoming("d2", "push", "github"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "d2", "github")).status === "done");
  await dispatcher.stop(1000);
  inbox.close();
  assert.deepEqual(await lines(out), ["v1 d1", "v2 d2"]);
});

Deno.test("dispatcher: an executable handler runs and its exit code decides the outcome", async () => {
  const dir = await handlersDir({
    "github/push.sh": {
      text: `#!/bin/sh\ncat >/dev/null\n[ "$WHD_EVENT_ID" = ok ]\n`,
      mode: 0o755,
    },
  });
  const { dispatcher, inbox } = await setup(dir, { handlers: { max_attempts: 1 } });
  await dispatcher.start();
  await inbox.accept(incoming("ok", "push", "github"));
  await inbox.accept(incoming("bad", "push", "github"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "ok", "github")).status === "done");
  const bad = await waitFor(async () => {
    const r = await status(inbox, "bad", "github");
    return r.status === "dead" && r;
  });
  await dispatcher.stop(1000);
  inbox.close();
  assert.equal(bad.last_error, "exit code 1");
});

Deno.test("dispatcher: an event type with no handler is marked unhandled, not retried", async () => {
  const dir = await handlersDir({ "stripe/invoice.paid.ts": "export default () => {};" });
  const { dispatcher, inbox } = await setup(dir);
  await dispatcher.start();
  await inbox.accept(incoming("evt_u", "charge.refunded"));
  await inbox.accept(incoming("d_u", "push", "github"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "evt_u")).status === "unhandled");
  await waitFor(async () => (await status(inbox, "d_u", "github")).status === "unhandled");
  await dispatcher.stop(1000);
  assert.equal((await status(inbox, "evt_u")).attempts, 1);
  inbox.close();
});

Deno.test("dispatcher: a spinning handler times out and the event is retried later", async () => {
  const dir = await handlersDir({
    "stripe/_default.ts": "export default () => { while (true) {} };",
  });
  const { dispatcher, inbox } = await setup(dir, { handlers: { timeout_ms: 300 } });
  await dispatcher.start();
  await inbox.accept(incoming("evt_spin", "x"));
  dispatcher.notify();
  const row = await waitFor(async () => {
    const r = await status(inbox, "evt_spin");
    return r.status === "failed" && r;
  });
  await dispatcher.stop(1000);
  inbox.close();
  assert.match(row.last_error!, /timed out after 300 ms/);
});

/**
 * A loopback server every handler of the returned dir fetches (env GATE); each request is held
 * until `hold()` settles, and `counts` tracks requests in flight now and at most.
 */
async function gateServer(hold: () => Promise<unknown>) {
  const counts = { inflight: 0, max: 0 };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async () => {
    counts.inflight++;
    counts.max = Math.max(counts.max, counts.inflight);
    await hold();
    counts.inflight--;
    return new Response("ok");
  });
  const dir = await handlersDir({
    "stripe/_default.ts":
      `export default async (e, ctx) => { await (await fetch(ctx.env.GATE)).text(); };`,
  });
  const env = () => ({ GATE: `http://127.0.0.1:${server.addr.port}/` });
  return { server, counts, dir, env };
}

Deno.test("dispatcher: deliveries arriving on saturated CPUs (ingest first) run one handler at a time", async () => {
  const { server, counts, dir, env } = await gateServer(() =>
    new Promise((r) => setTimeout(r, 20))
  );
  const { dispatcher, inbox, metrics, log } = await setup(dir, {
    handlers: { concurrency: 4 },
    env,
    sampleCpu: () => 1, // the CPUs are saturated
  });
  await dispatcher.start();
  await new Promise((r) => setTimeout(r, 300)); // the gate's first CPU reading is due
  // A burst: deliveries keep arriving while the backlog runs.
  let arriving = true;
  const burst = (async () => {
    for (let i = 0; arriving; i++) {
      await inbox.accept(incoming(`evt_burst${i}`, "x"));
      dispatcher.accepted();
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await waitFor(async () => (await inbox.counts()).done >= 6, 15_000, "six done in the burst");
  assert.equal(counts.max, 1, "one at a time while deliveries arrive on saturated CPUs");
  assert.equal(metrics.get("whd_handler_slots"), 1);
  const limited = log.lines.filter((l) => l.includes("ingest first: handler runs limited to 1"));
  assert.equal(limited.length, 1, "one line when the limit starts");
  assert.equal(JSON.parse(limited[0]).cpu_busy, 1);
  arriving = false;
  await burst;
  // No delivery for a second: the full concurrency comes back, and the log says so and why.
  await waitFor(() => metrics.get("whd_handler_slots") === 4, 5_000, "slots back to 4");
  const back = log.lines.filter((l) => l.includes("ingest first: handler runs back to 4 at once"));
  assert.equal(back.length, 1);
  assert.equal(JSON.parse(back[0]).reason, "deliveries stopped");
  await dispatcher.stop(1000);
  inbox.close();
  await server.shutdown();
});

Deno.test("dispatcher: never more than handlers.concurrency handlers at once", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const { server, counts, dir, env } = await gateServer(() => gate);
  const { dispatcher, inbox, metrics } = await setup(dir, { handlers: { concurrency: 2 }, env });
  for (let i = 0; i < 5; i++) await inbox.accept(incoming(`evt_c${i}`, "x"));
  await dispatcher.start();
  await waitFor(() => counts.inflight === 2, 10_000, "two handlers in flight");
  // Give the dispatcher every chance to (wrongly) start a third one.
  for (let i = 0; i < 5; i++) {
    dispatcher.notify();
    await new Promise((r) => setTimeout(r, 40));
  }
  assert.equal(counts.inflight, 2);
  assert.equal(dispatcher.running, 2);
  assert.equal(metrics.get("whd_handlers_running"), 2, "the gauge counts both");
  release();
  await waitFor(async () => (await inbox.counts()).done === 5, 15_000, "all done");
  await dispatcher.stop(1000);
  inbox.close();
  await server.shutdown();
  assert.equal(counts.max, 2);
});

Deno.test("dispatcher: shutdown lets quick handlers finish and releases the rest", async () => {
  const started = join(await scratchDir(), "started.txt");
  const mark = appendLine(started, "e.id");
  const dir = await handlersDir({
    "stripe/quick.ts": `export default async (e) => {
      ${mark}
      await new Promise((r) => setTimeout(r, 50));
    };`,
    "stripe/forever.ts": `export default async (e) => {
      ${mark}
      await new Promise(() => {});
    };`,
  });
  const { dispatcher, inbox } = await setup(dir);
  await inbox.accept(incoming("evt_q", "quick"));
  await inbox.accept(incoming("evt_f", "forever"));
  await dispatcher.start();
  // Both handlers are running (their host processes are up); the quick one needs 50 ms more.
  await waitFor(async () => (await lines(started)).length === 2, 30_000, "both handlers");
  await dispatcher.stop(300);
  assert.equal((await status(inbox, "evt_q")).status, "done");
  const forever = await status(inbox, "evt_f");
  assert.equal(forever.status, "pending", "released for the next start");
  assert.equal(forever.attempts, 0, "the interrupted attempt does not count");
  assert.equal(forever.lease_owner, null);
  inbox.close();
});

Deno.test("dispatcher: runNow (sync mode) runs before returning, reports failure, keeps dedupe", async () => {
  const { out, dir } = await appendingHandlers({
    "stripe/invoice.payment_failed.ts": `export default () => { throw new Error("nope"); };`,
  });
  // Not started: no poller competes, runNow alone runs events.
  const { dispatcher, inbox } = await setup(dir);
  await dispatcher.reload();
  await inbox.accept(incoming("evt_s", "invoice.paid"));
  assert.deepEqual(await dispatcher.runNow({ provider: "stripe", id: "evt_s" }), {
    ok: true,
    status: "done",
  });
  // The provider retries the same delivery: already done, the handler does not run again.
  const again = await inbox.accept(incoming("evt_s", "invoice.paid"));
  assert.equal(again.duplicate, true);
  assert.deepEqual(await dispatcher.runNow({ provider: "stripe", id: "evt_s" }), {
    ok: true,
    status: "done",
  });
  assert.deepEqual(await lines(out), ["evt_s 1"]);

  await inbox.accept(incoming("evt_sf", "invoice.payment_failed"));
  const failed = await dispatcher.runNow({ provider: "stripe", id: "evt_sf" });
  assert.equal(failed.ok, false);
  assert.equal(failed.status, "failed");
  assert.match(failed.error!, /nope/);
  assert.equal(
    (await dispatcher.runNow({ provider: "stripe", id: "evt_missing" })).status,
    "missing",
  );
  await dispatcher.stop(1000);
  inbox.close();
});

Deno.test("dispatcher: runNow racing the woken poller runs each event exactly once", async () => {
  const { out, dir } = await appendingHandlers();
  // As the server does for a sync webhook: accept, wake the poller, and runNow at once.
  const { dispatcher, inbox } = await setup(dir, { pollMs: 5, handlers: { concurrency: 8 } });
  await dispatcher.start();
  const ids = Array.from({ length: 24 }, (_, i) => `evt_race${i}`);
  const results = await Promise.all(ids.map(async (id) => {
    await inbox.accept(incoming(id, "invoice.paid"));
    dispatcher.notify();
    return await dispatcher.runNow({ provider: "stripe", id });
  }));
  await dispatcher.stop(1000);
  inbox.close();
  assert.ok(results.every((r) => r.ok && r.status === "done"), JSON.stringify(results));
  assert.deepEqual((await lines(out)).sort(), ids.map((id) => `${id} 1`).sort());
});

Deno.test("dispatcher: a reload that adds a handler re-queues the unhandled events it matches", async () => {
  const dir = await handlersDir({ "stripe/invoice.paid.ts": "export default () => {};" });
  const { dispatcher, inbox } = await setup(dir);
  await dispatcher.start();
  await inbox.accept(incoming("evt_late", "customer.created"));
  dispatcher.notify();
  await waitFor(async () => (await status(inbox, "evt_late")).status === "unhandled");
  await writeFile(dir, "stripe/customer.*.ts", "export default () => {};");
  await dispatcher.reload();
  await waitFor(async () => (await status(inbox, "evt_late")).status === "done");
  await dispatcher.stop(1000);
  inbox.close();
});

Deno.test("dispatcher: an event leased by a process that died runs again once the lease expires", async () => {
  const { out, dir } = await appendingHandlers();
  const clock = new ManualClock();
  const { dispatcher, inbox } = await setup(dir, { clock });
  await inbox.accept(incoming("evt_crash", "invoice.paid"));
  // A previous whd leased it and was killed mid-handler.
  const [leased] = await inbox.claim({
    owner: "dead",
    limit: 1,
    leaseMs: 60_000,
    now: clock.now(),
  });
  assert.equal(leased.id, "evt_crash");
  await dispatcher.start();
  dispatcher.notify();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal((await status(inbox, "evt_crash")).status, "running", "not while leased");
  assert.deepEqual(await lines(out), []);
  clock.advance(60_001);
  dispatcher.notify();
  const row = await waitFor(async () => {
    const r = await status(inbox, "evt_crash");
    return r.status === "done" && r;
  });
  await dispatcher.stop(1000);
  inbox.close();
  assert.equal(row.attempts, 2);
  assert.deepEqual(await lines(out), ["evt_crash 2"]);
});
