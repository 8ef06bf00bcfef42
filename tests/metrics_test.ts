/**
 * Metrics as Prometheus reads them: the exposition text checked by the real `promtool check
 * metrics` (Debian's prometheus package), unit rules of the registry (series identity,
 * histogram buckets, bounded type labels), the backlog gauges on a real libSQL file, and a real
 * `whd serve` scraped after real signed deliveries and handler runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { ManualClock } from "../src/clock.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { watchBacklog } from "../src/ops/backlog_gauges.ts";
import { memoryLogger } from "../src/ops/log.ts";
import { HANDLER_BUCKETS, Metrics, observeRun } from "../src/ops/metrics.ts";
import { TypeLabels } from "../src/ops/type_labels.ts";
import { startWhd } from "./helpers/whd_process.ts";

/** Runs `promtool check metrics` on `text`; null when promtool is not installed. */
async function promtool(text: string): Promise<{ code: number; output: string } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, output: d.decode(out.stdout) + d.decode(out.stderr) };
}

async function assertPromtoolAccepts(text: string): Promise<void> {
  const result = await promtool(text);
  if (result === null) {
    console.warn("promtool not installed: skipping the promtool check");
    return;
  }
  assert.equal(result.code, 0, `promtool check metrics failed:\n${result.output}\n---\n${text}`);
}

Deno.test("a counter handle adds to the same series as inc with the same labels, in any order", () => {
  const metrics = new Metrics();
  const stored = metrics.counter("whd_events_total", { webhook: "default", provider: "stripe" });
  stored.inc();
  stored.inc(2);
  metrics.inc("whd_events_total", { provider: "stripe", webhook: "default" });
  assert.equal(metrics.get("whd_events_total", { provider: "stripe", webhook: "default" }), 4);
  assert.match(
    metrics.render(),
    /^# HELP whd_events_total .+\n# TYPE whd_events_total counter\nwhd_events_total\{provider="stripe",webhook="default"\} 4\n$/,
  );
});

Deno.test("a histogram is one series whatever the order of its labels; label sets that spell alike stay apart", () => {
  const metrics = new Metrics();
  metrics.histogram("whd_handler_seconds", { provider: "stripe", outcome: "done" }, HANDLER_BUCKETS)
    .observe(0.2);
  metrics.histogram("whd_handler_seconds", { outcome: "done", provider: "stripe" }, HANDLER_BUCKETS)
    .observe(0.4);
  assert.equal(metrics.get("whd_handler_seconds", { provider: "stripe", outcome: "done" }), 2);
  // Joined naively, these two label sets read the same: they are two series.
  metrics.inc("whd_rejected_total", { reason: "a", webhook: "b" });
  metrics.inc("whd_rejected_total", { reason: "a|webhook:b" });
  assert.equal(metrics.get("whd_rejected_total", { reason: "a", webhook: "b" }), 1);
  assert.equal(metrics.get("whd_rejected_total", { reason: "a|webhook:b" }), 1);
  assert.equal(
    metrics.render().split("\n").filter((l) => l.startsWith("whd_rejected_total{")).length,
    2,
  );
});

Deno.test("a counter resolved but never incremented renders as 0 (so rate() sees its start)", () => {
  const metrics = new Metrics();
  metrics.counter("whd_store_errors_total", { provider: "stripe" });
  assert.match(metrics.render(), /\nwhd_store_errors_total\{provider="stripe"\} 0\n$/);
});

Deno.test("an empty registry renders nothing, which promtool accepts", async () => {
  const metrics = new Metrics();
  assert.equal(metrics.render(), "");
  await assertPromtoolAccepts(metrics.render());
});

Deno.test("histogram buckets are cumulative, include their bound, and end at +Inf with sum and count", () => {
  const metrics = new Metrics();
  const h = metrics.histogram("whd_delivery_seconds", { webhook: "default" }, [0.25, 0.5, 1]);
  for (const v of [0.25, 0.125, 0.5, 0.75, 4]) h.observe(v);
  const text = metrics.render();
  const lines = text.split("\n").filter((l) => l.startsWith("whd_delivery_seconds"));
  assert.deepEqual(lines, [
    'whd_delivery_seconds_bucket{webhook="default",le="0.25"} 2',
    'whd_delivery_seconds_bucket{webhook="default",le="0.5"} 3',
    'whd_delivery_seconds_bucket{webhook="default",le="1"} 4',
    'whd_delivery_seconds_bucket{webhook="default",le="+Inf"} 5',
    'whd_delivery_seconds_sum{webhook="default"} 5.625',
    'whd_delivery_seconds_count{webhook="default"} 5',
  ]);
  assert.match(text, /# TYPE whd_delivery_seconds histogram\n/);
  assert.equal(metrics.get("whd_delivery_seconds", { webhook: "default" }), 5);
});

Deno.test("label values with quotes, backslashes and newlines are escaped; promtool accepts every family whd exports", async () => {
  const metrics = new Metrics();
  metrics.inc("whd_rejected_total", {
    provider: "stripe",
    webhook: 'we"ird\\name\nx',
    reason: "signature_mismatch",
  });
  observeRun(metrics, "stripe", "invoice.paid", "complete", 12);
  observeRun(metrics, "stripe", "invoice.paid", "fail", 30);
  observeRun(metrics, "stripe", "charge.failed", "bury", 4_000);
  observeRun(metrics, "stripe", "charge.failed", "unhandled", 0);
  metrics.histogram("whd_delivery_seconds", { provider: "stripe", webhook: "default" }, [0.001])
    .observe(0.0004);
  metrics.inc("whd_deliveries_total", { provider: "stripe", webhook: "default", code: "200" });
  metrics.set("whd_inbox_events", { status: "pending" }, 3);
  metrics.set("whd_oldest_pending_age_seconds", {}, 1.5);
  metrics.set("whd_handlers_running", {}, 0);
  metrics.set("whd_handler_slots", {}, 4);
  metrics.inc("whd_reconcile_runs_total", { provider: "stripe", outcome: "ok" });
  metrics.inc("whd_backfilled_events_total", { provider: "stripe" }, 4);
  const text = metrics.render();
  assert.ok(text.includes('webhook="we\\"ird\\\\name\\nx"'), text);
  assert.equal(metrics.get("whd_retries_total", { provider: "stripe" }), 1);
  assert.equal(metrics.get("whd_dead_letters_total", { provider: "stripe" }), 1);
  assert.equal(
    metrics.get("whd_handler_seconds", {
      provider: "stripe",
      type: "charge.failed",
      outcome: "dead",
    }),
    1,
  );
  // An unhandled event did not run a handler: no duration for it.
  assert.doesNotMatch(text, /outcome="unhandled"/);
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    const family = line.replace(/(_bucket|_sum|_count)?(\{.*)?\s.*$/, "");
    assert.match(text, new RegExp(`# HELP ${family} \\S`), `no help for ${line}`);
    assert.match(text, new RegExp(`# TYPE ${family} (counter|gauge|histogram)\\n`));
  }
  await assertPromtoolAccepts(text);
});

Deno.test("event-type labels are bounded: configured types keep their name, unknown ones up to the cap, then 'other'", () => {
  const types = TypeLabels.fromConfig({
    providers: [{
      name: "stripe",
      webhooks: [{ events: ["invoice.paid", "customer.subscription.*"] }],
    }],
  }, 2);
  const metrics = new Metrics({ types });
  for (let i = 0; i < 50; i++) observeRun(metrics, "stripe", `made.up.${i}`, "complete", 1);
  observeRun(metrics, "stripe", "invoice.paid", "complete", 1);
  observeRun(metrics, "stripe", "made.up.0", "complete", 1);
  const typeValues = new Set(
    [...metrics.render().matchAll(/whd_handler_seconds_count\{[^}]*type="([^"]+)"/g)].map((m) =>
      m[1]
    ),
  );
  assert.deepEqual([...typeValues].sort(), ["invoice.paid", "made.up.0", "made.up.1", "other"]);
  const labels = { provider: "stripe", type: "other", outcome: "done" };
  assert.equal(metrics.get("whd_handler_seconds", labels), 48);
  // The wildcard is not a type name; a type it matches counts against the cap like any other.
  assert.equal(types.label("stripe", "customer.subscription.updated"), "other");
  // Caps are per provider.
  assert.equal(types.label("github", "push"), "push");
});

Deno.test("handler duration buckets are ascending and observing picks the first bucket the value fits", () => {
  for (let i = 1; i < HANDLER_BUCKETS.length; i++) {
    assert.ok(HANDLER_BUCKETS[i] > HANDLER_BUCKETS[i - 1]);
  }
  const metrics = new Metrics();
  metrics.histogram("whd_handler_seconds", {}, HANDLER_BUCKETS).observe(0.25);
  assert.match(metrics.render(), /whd_handler_seconds_bucket\{le="0.1"\} 0\n.*le="0.25"\} 1\n/);
});

Deno.test("backlog gauges come from a real inbox: counts by status and the oldest waiting event's age, refreshed at most every maxAgeMs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_backlog_" });
  const clock = new ManualClock(1_700_000_000_000);
  const inbox = await openInbox({ url: `file:${join(dir, "whd.db")}`, now: () => clock.now() });
  try {
    const t0 = clock.now();
    for (let i = 0; i < 3; i++) {
      await inbox.accept({
        provider: "stripe",
        id: `evt_${i}`,
        webhook: "default",
        type: "invoice.paid",
        payload: "{}",
        receivedAt: t0 - (3 - i) * 60_000,
        source: "delivery",
      });
    }
    await inbox.accept({
      provider: "stripe",
      id: "evt_ignored",
      webhook: "default",
      type: "charge.succeeded",
      payload: "{}",
      receivedAt: t0,
      source: "delivery",
    }, { status: "ignored" });
    const metrics = new Metrics();
    const backlog = watchBacklog({
      inbox,
      metrics,
      clock,
      log: memoryLogger(),
      maxAgeMs: 5_000,
    });
    await backlog.refresh();
    let text = metrics.render();
    assert.match(text, /\nwhd_inbox_events\{status="pending"\} 3\n/);
    assert.match(text, /\nwhd_inbox_events\{status="ignored"\} 1\n/);
    assert.match(text, /\nwhd_inbox_events\{status="dead"\} 0\n/);
    assert.doesNotMatch(text, /status="done"/);
    assert.match(text, /\nwhd_oldest_pending_age_seconds 180\n/);

    // The oldest is claimed and completed: the next refresh sees the next oldest.
    const [first] = await inbox.claim({ owner: "t", limit: 1, leaseMs: 60_000, now: t0 });
    assert.equal(first.id, "evt_0");
    await inbox.complete(first, "t", t0);
    clock.advance(1_000);
    text = metrics.render(); // cached values, 1 s old: no refresh yet
    assert.match(text, /\nwhd_inbox_events\{status="pending"\} 3\n/);
    assert.match(text, /\nwhd_oldest_pending_age_seconds 181\n/);
    clock.advance(5_000);
    metrics.render(); // stale: starts a refresh for the next scrape
    await backlog.refresh();
    text = metrics.render();
    assert.match(text, /\nwhd_inbox_events\{status="pending"\} 2\n/);
    assert.match(text, /\nwhd_oldest_pending_age_seconds 126\n/);
    await assertPromtoolAccepts(text);
  } finally {
    inbox.close();
    await inbox.whenClosed().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

const SECRET = "whsec_metrics_test_secret";

async function deliver(url: string, id: string, type: string, secret = SECRET): Promise<number> {
  const payload = JSON.stringify({ id, object: "event", type, data: { object: {} } });
  const header = await new Stripe("sk_test_unused").webhooks.generateTestHeaderStringAsync({
    payload,
    secret,
  });
  const res = await fetch(`${url}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body: payload,
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name:
    "a real whd serve after real deliveries and handler runs serves /metrics that promtool accepts, with the counts that happened",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "whd_metrics_" });
    let server: Awaited<ReturnType<typeof startWhd>> | undefined;
    try {
      await Deno.mkdir(join(dir, "handlers", "stripe"), { recursive: true });
      await Deno.writeTextFile(
        join(dir, "handlers", "stripe", "invoice.paid.ts"),
        "export default () => {};\n",
      );
      await Deno.writeTextFile(
        join(dir, "handlers", "stripe", "charge.failed.ts"),
        'export default () => { throw new Error("nope"); };\n',
      );
      const configPath = join(dir, "whd.yaml");
      await Deno.writeTextFile(
        configPath,
        `database:
  url: file:${join(dir, "whd.db")}
handlers:
  dir: ${join(dir, "handlers")}
  watch: false
  max_attempts: 1
providers:
  stripe:
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [invoice.paid, charge.failed]
`,
      );
      server = await startWhd(["--config", configPath], {
        env: { STRIPE_WEBHOOK_SECRET: SECRET },
      });
      assert.equal(await deliver(server.url, "evt_1", "invoice.paid"), 200);
      assert.equal(await deliver(server.url, "evt_1", "invoice.paid"), 200); // duplicate
      assert.equal(await deliver(server.url, "evt_2", "charge.failed"), 200);
      assert.equal(await deliver(server.url, "evt_3", "invoice.paid", "whsec_wrong"), 400);
      assert.equal(await deliver(server.url, "evt_4", "customer.created"), 200); // ignored

      // Wait until both handler runs are recorded.
      const deadline = Date.now() + 30_000;
      let text = "";
      // /metrics is on the admin listener (the public port answers 404 there).
      const admin = /admin listening.*?(http:\/\/[0-9.]+:\d+)/.exec(server.logs())![1];
      for (;;) {
        const res = await fetch(`${admin}/metrics`);
        text = await res.text();
        if (
          /whd_handler_seconds_count\{[^}]*outcome="done"[^}]*\} 1/.test(text) &&
          /whd_dead_letters_total\{provider="stripe"\} 1/.test(text)
        ) break;
        if (Date.now() > deadline) assert.fail(`handler runs not in /metrics after 30 s:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const route = 'provider="stripe",webhook="default"';
      assert.match(text, new RegExp(`whd_deliveries_total\\{code="200",${route}\\} 4\\n`));
      assert.match(text, new RegExp(`whd_deliveries_total\\{code="400",${route}\\} 1\\n`));
      assert.match(text, new RegExp(`whd_delivery_seconds_count\\{${route}\\} 5\\n`));
      assert.match(text, new RegExp(`whd_delivery_seconds_bucket\\{${route},le="\\+Inf"\\} 5\\n`));
      assert.match(
        text,
        /whd_events_total\{provider="stripe",result="duplicate",webhook="default"\} 1\n/,
      );
      assert.match(
        text,
        /whd_events_total\{provider="stripe",result="ignored",webhook="default"\} 1\n/,
      );
      assert.match(
        text,
        /whd_rejected_total\{provider="stripe",reason="[a-z_]+",webhook="default"\} 1\n/,
      );
      assert.match(
        text,
        /whd_handler_seconds_count\{outcome="dead",provider="stripe",type="charge.failed"\} 1\n/,
      );
      assert.match(
        text,
        /whd_handler_seconds_count\{outcome="done",provider="stripe",type="invoice.paid"\} 1\n/,
      );
      assert.match(text, /# TYPE whd_inbox_events gauge\n/);
      assert.match(text, /# TYPE whd_oldest_pending_age_seconds gauge\n/);
      await assertPromtoolAccepts(text);
    } finally {
      const status = server ? await server.stop() : undefined;
      if (status) assert.equal(status.code, 0, server?.logs());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
