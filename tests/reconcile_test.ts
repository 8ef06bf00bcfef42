/**
 * Scheduled reconciliation: the inbox lock on a real libSQL file (two connections contending),
 * the `reconcile:` block's errors, and two real `whd serve` processes on one database with a
 * one-second schedule against the fake Stripe API (slowed by a proxy so that a run lasts about
 * a second): the missing events are stored, each run is one log line, the two processes never
 * run at the same moment, and the metrics count the runs and the backfilled events.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../src/config/loader.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { parseDuration, reconcilePlans } from "../src/jobs/reconcile.ts";
import { startFakeStripe } from "./fakes/stripe_api.ts";
import { startWhd, whd, type WhdServer } from "./helpers/whd_process.ts";

Deno.test("the lock: one holder at a time, renewable by its owner, free again once expired or released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_lock_" });
  const url = `file:${join(dir, "whd.db")}`;
  const a = await openInbox({ url });
  const b = await openInbox({ url });
  try {
    const t = 1_700_000_000_000;
    assert.equal(await a.acquireLock("reconcile:stripe", "A", 10_000, t), true);
    assert.equal(await b.acquireLock("reconcile:stripe", "B", 10_000, t + 1), false);
    assert.equal(await a.acquireLock("reconcile:stripe", "A", 10_000, t + 5_000), true); // renew
    assert.equal(await b.acquireLock("reconcile:stripe", "B", 10_000, t + 12_000), false);
    assert.equal(await b.acquireLock("other", "B", 10_000, t + 12_000), true); // another name
    assert.equal(await b.acquireLock("reconcile:stripe", "B", 10_000, t + 15_000), true); // expired
    assert.equal(await a.releaseLock("reconcile:stripe", "A"), false); // not A's any more
    assert.equal(await b.releaseLock("reconcile:stripe", "B"), true);
    assert.equal(await a.acquireLock("reconcile:stripe", "A", 10_000, t + 15_001), true);

    // Many tries at once from two connections to one free lock: exactly one wins.
    const tries = [];
    for (let i = 0; i < 20; i++) {
      tries.push((i % 2 ? a : b).acquireLock("race", `owner${i}`, 60_000, t));
    }
    const won = (await Promise.all(tries)).filter((x) => x);
    assert.equal(won.length, 1);
  } finally {
    a.close();
    b.close();
    await Promise.all([a.whenClosed(), b.whenClosed()]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

const STRIPE = (reconcile: string, extra = "") =>
  `providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
${extra}    reconcile: ${reconcile}
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`;

Deno.test("reconcile: defaults, durations, and one-line errors for what cannot work", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  const [plan] = reconcilePlans(parseConfig(STRIPE("{}"), "t.yaml"));
  assert.equal(plan.everyMs, 3_600_000);
  assert.equal(plan.hours, 24);
  assert.equal(plan.webhook.name, "default");
  assert.throws(() => parseConfig(STRIPE("{ every: 1 hour }"), "t.yaml"), /every/);
  assert.throws(() => parseConfig(STRIPE("{ hours: 1000 }"), "t.yaml"), /hours/);
  assert.throws(
    () => reconcilePlans(parseConfig(STRIPE("{ every: 500ms }"), "t.yaml")),
    /reconcile\.every is 500ms: use at least 1s/,
  );
  assert.throws(
    () => reconcilePlans(parseConfig(STRIPE("{ webhook: nope }"), "t.yaml")),
    /no webhook "nope"/,
  );
  assert.throws(
    () => parseConfig(STRIPE("{}").replace("    api_key_env: STRIPE_SECRET_KEY\n", ""), "t.yaml"),
    /reconcile.*api_key_env/s,
  );
  assert.throws(
    () =>
      parseConfig(
        `providers:
  github:
    reconcile: {}
    webhooks:
      default:
        path: /gh
        signing_secret_env: GH
`,
        "t.yaml",
      ),
    /reconcile.*only applies to Stripe/s,
  );
});

const KEY = "sk_test_reconcile_0123456789";

/** A proxy in front of the fake Stripe API that holds every request `delayMs`. */
function slowProxy(target: string, delayMs: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await new Promise((r) => setTimeout(r, delayMs));
    const url = new URL(request.url);
    const res = await fetch(`${target}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  });
}

interface RunLine {
  process: number;
  start: number;
  end: number;
  listed: number;
  stored: number;
  duplicates: number;
}

function runLines(server: WhdServer, process: number): RunLine[] {
  return server.logs().split("\n").filter((l) => l.includes('"msg":"reconcile finished"')).map(
    (l) => {
      const r = JSON.parse(l);
      return {
        process,
        start: Date.parse(r.until),
        end: Date.parse(r.time),
        listed: r.listed,
        stored: r.stored,
        duplicates: r.duplicates,
      };
    },
  );
}

Deno.test({
  name:
    "two whd serve processes on one database with reconcile every 1s: missing events are stored, each run logged, never two runs at once",
  async fn() {
    const fake = await startFakeStripe({ keys: [KEY] });
    const proxy = slowProxy(fake.url, 250);
    const dir = await Deno.makeTempDir({ prefix: "whd_reconcile_" });
    const servers: WhdServer[] = [];
    try {
      const now = Math.floor(Date.now() / 1000);
      // 250 events in the last day: three pages, each held 250 ms by the proxy.
      for (let i = 0; i < 250; i++) fake.addEvent({ type: "invoice.paid", created: now - 60 * i });
      fake.addEvent({ type: "invoice.paid", created: now - 30 * 3600 }); // outside hours: 24
      const configPath = join(dir, "whd.yaml");
      await Deno.writeTextFile(
        configPath,
        `database:
  url: file:${join(dir, "whd.db")}
log:
  format: json
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: http://127.0.0.1:${proxy.addr.port}
    reconcile: { every: 1s, hours: 24 }
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`,
      );
      const env = { STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRET: "whsec_reconcile_test" };
      const args = ["--config", configPath, "--no-handlers"];
      servers.push(await startWhd(args, { env }));
      servers.push(await startWhd(args, { env }));

      // Let several periods pass, adding an event midway: a later run must pick it up.
      await new Promise((r) => setTimeout(r, 3_000));
      const late = fake.addEvent({ type: "invoice.paid", created: Math.floor(Date.now() / 1000) });
      const deadline = Date.now() + 30_000;
      let lines: RunLine[] = [];
      for (;;) {
        lines = servers.flatMap((s, i) => runLines(s, i));
        const after = lines.filter((l) => l.listed === 251);
        if (after.length >= 1 && lines.length >= 4) break;
        if (Date.now() > deadline) {
          assert.fail(
            `no run saw the late event in 30 s:\n${servers.map((s) => s.logs()).join("\n")}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const metrics = await Promise.all(
        servers.map(async (s) => await (await fetch(`${s.url}/metrics`)).text()),
      );
      for (const s of servers) {
        const status = await s.stop();
        assert.equal(status.code, 0, s.logs());
      }
      lines = servers.flatMap((s, i) => runLines(s, i)).sort((x, y) => x.start - y.start);

      // Never at the same moment: the runs (from listing start to the result line) are disjoint.
      for (let i = 1; i < lines.length; i++) {
        assert.ok(
          lines[i].start >= lines[i - 1].end,
          `runs overlap: ${JSON.stringify(lines[i - 1])} and ${JSON.stringify(lines[i])}`,
        );
      }
      // About once per period across both processes, not once per process.
      const span = (lines.at(-1)!.end - lines[0].start) / 1000;
      assert.ok(lines.length <= span + 2, `${lines.length} runs in ${span.toFixed(1)} s`);
      // The first run stored the day's 250; the late one was stored by one later run.
      assert.equal(lines[0].listed, 250);
      assert.equal(lines[0].stored, 250);
      assert.equal(lines.reduce((n, l) => n + l.stored, 0), 251);
      assert.ok(lines.slice(1).every((l) => l.duplicates + l.stored === l.listed));

      const rows = await whd([
        "--config",
        configPath,
        "events",
        "list",
        "--json",
        "--limit",
        "1000",
      ], {
        env,
      });
      assert.equal(rows.code, 0, rows.stderr);
      const listed: { id: string; source: string }[] = JSON.parse(rows.stdout);
      assert.equal(listed.length, 251);
      assert.ok(listed.every((r) => r.source === "backfill"));
      assert.ok(listed.some((r) => r.id === late.id));

      // Metrics: runs by outcome in each process, backfilled events summing to what was stored.
      const sum = (re: RegExp) =>
        metrics.reduce((n, text) => n + Number(re.exec(text)?.[1] ?? 0), 0);
      assert.equal(sum(/whd_backfilled_events_total\{provider="stripe"\} (\d+)/), 251);
      assert.ok(sum(/whd_reconcile_runs_total\{outcome="ok",provider="stripe"\} (\d+)/) >= 2);
      assert.ok(sum(/whd_reconcile_runs_total\{outcome="skipped",provider="stripe"\} (\d+)/) >= 1);
    } finally {
      for (const s of servers) await s.stop().catch(() => {});
      await proxy.shutdown();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
