import assert from "node:assert/strict";
import { ManualClock } from "../src/clock.ts";
import { UserError } from "../src/errors.ts";
import type { Inbox } from "../src/inbox/types.ts";
import { backfill, type BackfillOptions } from "../src/jobs/backfill.ts";
import { createStripeClient } from "../src/providers/stripe_api.ts";
import { type FakeStripe, startFakeStripe } from "./fakes/stripe_api.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { stripeProvider, stripeWebhook, testConfig } from "./fakes/stripe_config.ts";
import { register as registerBackfill } from "../src/cli/backfill.ts";
import { runCli } from "./fakes/cli_harness.ts";
import { Metrics } from "../src/ops/metrics.ts";
import { seriesValue } from "./helpers/metrics.ts";

const KEY = "sk_test_backfill_0123456789";
const NOW = 1_750_000_000_000;
const DAY = 86_400_000;
const nowSec = NOW / 1000;

/** `n` events spread over the last `hours`, oldest first, cycling through `types`. */
function seed(fake: FakeStripe, n: number, hours = 23, types = ["invoice.paid"]) {
  const span = hours * 3600;
  return Array.from({ length: n }, (_, i) =>
    fake.addEvent({
      type: types[i % types.length],
      created: nowSec - span + Math.floor((i * span) / n),
    }));
}

/** Every stored row (the inbox lists newest first; a large limit gets them all). */
function allRows(inbox: Inbox) {
  return inbox.list({ provider: "stripe", limit: 100_000 });
}

async function rowCount(inbox: Inbox) {
  return (await allRows(inbox)).length;
}

async function setup(fakeOptions = {}) {
  const fake = await startFakeStripe({ keys: [KEY], ...fakeOptions });
  const dir = await Deno.makeTempDir({ prefix: "whd_backfill_" });
  const provider = stripeProvider(fake.url);
  const client = createStripeClient(provider, () => KEY, { maxNetworkRetries: 1 });
  const dbUrl = `file:${dir}/whd.db`;
  const inbox = await openInbox({ url: dbUrl });
  const clock = new ManualClock(NOW);
  const run = (extra: Partial<BackfillOptions> = {}) =>
    backfill({
      inbox,
      client,
      provider,
      webhook: provider.webhooks[0],
      since: NOW - DAY,
      clock,
      ...extra,
    });
  return {
    fake,
    dbUrl,
    provider,
    client,
    inbox,
    clock,
    run,
    async [Symbol.asyncDispose]() {
      inbox.close();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function eventRequests(fake: FakeStripe) {
  return fake.state.requests.filter((r) => r.path === "/v1/events");
}

async function accept(inbox: Inbox, id: string, type = "invoice.paid") {
  await inbox.accept({
    id,
    provider: "stripe",
    webhook: "default",
    type,
    payload: "{}",
    receivedAt: NOW - 1000,
    source: "delivery",
  });
}

Deno.test("backfill of 24h follows created[gte], limit 100 and starting_after through every page", async () => {
  await using t = await setup();
  const inWindow = seed(t.fake, 250);
  t.fake.addEvent({ type: "invoice.paid", created: nowSec - 25 * 3600 }); // older than the window
  const pages: number[] = [];
  const report = await t.run({ onProgress: (p) => pages.push(p.page) });

  assert.equal(report.found, 250);
  assert.equal(report.new, 250);
  assert.equal(report.alreadyStored, 0);
  assert.equal(report.pages, 3);
  assert.equal(report.complete, true);
  assert.deepEqual(pages, [1, 2, 3]);

  const requests = eventRequests(t.fake);
  assert.equal(requests.length, 3);
  for (const r of requests) {
    assert.equal(r.query.get("created[gte]"), String(nowSec - 86_400));
    assert.equal(r.query.get("limit"), "100");
    assert.equal(r.authorization, `Bearer ${KEY}`);
    assert.equal(r.stripeVersion, "2024-06-20");
  }
  // Newest first: page 2 starts after the 100th newest, page 3 after the 200th.
  const newest = [...inWindow].reverse();
  assert.equal(requests[0].query.get("starting_after"), null);
  assert.equal(requests[1].query.get("starting_after"), newest[99].id);
  assert.equal(requests[2].query.get("starting_after"), newest[199].id);

  assert.equal(await rowCount(t.inbox), 250);
  const sample = inWindow[17];
  const [row] = await t.inbox.find(sample.id, "stripe");
  assert.equal(row.source, "backfill");
  assert.equal(row.webhook, "default");
  assert.equal(row.type, "invoice.paid");
  assert.equal(row.received_at, NOW);
  assert.deepEqual(JSON.parse(row.payload), sample);
});

Deno.test("backfill stores only events not yet received and counts the rest as already stored", async () => {
  await using t = await setup();
  const events = seed(t.fake, 120);
  for (const e of events.slice(30, 70)) await accept(t.inbox, e.id);

  const report = await t.run();
  assert.equal(report.found, 120);
  assert.equal(report.new, 80);
  assert.equal(report.alreadyStored, 40);
  assert.equal(await rowCount(t.inbox), 120);
  const [kept] = await t.inbox.find(events[30].id, "stripe");
  assert.equal(kept.source, "delivery", "an event already received is left as it was");
});

Deno.test("backfill keeps only the types the webhook's events allowlist accepts", async () => {
  const types = ["invoice.paid", "customer.subscription.created", "charge.succeeded"];
  await using t = await setup();
  seed(t.fake, 30, 23, types);
  const webhook = stripeWebhook({ events: ["invoice.paid", "customer.subscription.*"] });
  const report = await t.run({ webhook });
  assert.equal(report.found, 30);
  assert.equal(report.skipped, 10);
  assert.equal(report.new, 20);
  const stored = new Set((await allRows(t.inbox)).map((r) => r.type));
  assert.deepEqual([...stored].sort(), ["customer.subscription.created", "invoice.paid"]);
  // A family cannot be sent as types[]: the filter ran on whd's side.
  assert.equal(eventRequests(t.fake)[0].query.get("types[0]"), null);
});

Deno.test("backfill --types narrows further and exact types are sent to the API as types[]", async () => {
  await using t = await setup();
  seed(t.fake, 30, 23, ["invoice.paid", "customer.subscription.created", "charge.succeeded"]);
  const report = await t.run({ types: ["charge.succeeded"] });
  assert.equal(report.new, 10);
  assert.equal(report.skipped, 0, "the API did the filtering");
  assert.equal(eventRequests(t.fake)[0].query.get("types[0]"), "charge.succeeded");
  assert.deepEqual([...new Set((await allRows(t.inbox)).map((r) => r.type))], [
    "charge.succeeded",
  ]);
});

Deno.test("backfill --dry-run reports what would happen and writes nothing", async () => {
  await using t = await setup();
  const events = seed(t.fake, 150);
  for (const e of events.slice(0, 25)) await accept(t.inbox, e.id);
  const before = await allRows(t.inbox);
  const acceptsBefore = t.inbox.stats().accepts;

  const report = await t.run({ dryRun: true });
  assert.equal(report.dryRun, true);
  assert.equal(report.found, 150);
  assert.equal(report.new, 125);
  assert.equal(report.alreadyStored, 25);
  assert.equal(t.inbox.stats().accepts, acceptsBefore);
  assert.deepEqual(await allRows(t.inbox), before);
});

Deno.test("an interrupted backfill reports the failure, and running it again completes without duplicates", async () => {
  await using t = await setup();
  seed(t.fake, 250);
  t.fake.state.faults.dropEventsAfterPage = 2;

  const first = await t.run();
  assert.equal(first.complete, false);
  assert.equal(first.found, 200);
  assert.equal(first.new, 200);
  assert.equal(first.errors.length, 1);
  assert.match(first.errors[0].message, /cannot reach the Stripe API at http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await rowCount(t.inbox), 200);

  t.fake.state.faults.dropEventsAfterPage = undefined;
  const second = await t.run();
  assert.equal(second.complete, true);
  assert.equal(second.errors.length, 0);
  assert.equal(second.found, 250);
  assert.equal(second.new, 50);
  assert.equal(second.alreadyStored, 200);
  assert.equal(await rowCount(t.inbox), 250);
});

Deno.test("a 429 is retried after the Retry-After the API sent, then the backfill succeeds", async () => {
  await using t = await setup();
  seed(t.fake, 120);
  t.fake.state.faults.rateLimit = { count: 2, retryAfter: "7" };
  const waits: number[] = [];
  const report = await t.run({ sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  assert.deepEqual(waits, [7000, 7000]);
  assert.equal(report.complete, true);
  assert.equal(report.new, 120);
  const statuses = eventRequests(t.fake).map((r) => r.status);
  assert.deepEqual(statuses, [429, 429, 200, 200]);
});

Deno.test("a 429 without Retry-After backs off exponentially", async () => {
  await using t = await setup();
  seed(t.fake, 3);
  t.fake.state.faults.rateLimit = { count: 3 };
  const waits: number[] = [];
  const report = await t.run({ sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  assert.deepEqual(waits, [1000, 2000, 4000]);
  assert.equal(report.new, 3);
});

Deno.test("a 500 is retried by the SDK and the backfill succeeds", async () => {
  await using t = await setup();
  seed(t.fake, 5);
  t.fake.state.faults.serverError = { count: 1 };
  const report = await t.run();
  assert.equal(report.new, 5);
  assert.deepEqual(eventRequests(t.fake).map((r) => r.status), [500, 200]);
});

Deno.test("a rejected key fails with one line naming the env var and never the key", async () => {
  await using t = await setup();
  seed(t.fake, 5);
  const wrong = "sk_test_wrong_key_987654321";
  const client = createStripeClient(t.provider, () => wrong, { maxNetworkRetries: 0 });
  const error = await t.run({ client }).then(() => null, (e) => e);
  assert.ok(error instanceof UserError);
  assert.match(error.message, /^STRIPE_SECRET_KEY was rejected by Stripe \(401\)/);
  assert.equal(error.message.includes("\n"), false);
  for (const fragment of [wrong, wrong.slice(0, 12), wrong.slice(-4)]) {
    assert.equal(error.message.includes(fragment), false, `message contains ${fragment}`);
  }
  assert.equal(await rowCount(t.inbox), 0);
});

Deno.test("a missing API key env var is a one-line error saying which variable to set", () => {
  const provider = stripeProvider("http://127.0.0.1:9");
  assert.throws(
    () => createStripeClient(provider, () => undefined),
    (e: unknown) =>
      e instanceof UserError &&
      /^set STRIPE_SECRET_KEY to your Stripe secret key/.test(e.message) &&
      !e.message.includes("\n"),
  );
  assert.throws(
    () => createStripeClient({ ...provider, api_key_env: undefined }, () => KEY),
    (e: unknown) => e instanceof UserError && /has no api_key_env/.test(e.message),
  );
});

Deno.test("an unreachable API is a one-line error naming the address", async () => {
  await using t = await setup();
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const provider = stripeProvider(`http://127.0.0.1:${port}`);
  const client = createStripeClient(provider, () => KEY, { maxNetworkRetries: 0 });
  const error = await t.run({ client, provider }).then(() => null, (e) => e);
  assert.ok(error instanceof UserError);
  assert.match(
    error.message,
    new RegExp(
      `^cannot reach the Stripe API at http://127\\.0\\.0\\.1:${port} .*Connection refused`,
    ),
  );
  assert.equal(error.message.includes("\n"), false);
});

Deno.test("events stuck in failed or dead are reported, and re-queued only with retryFailed", async () => {
  await using t = await setup();
  const events = seed(t.fake, 6);
  for (const e of events.slice(0, 3)) await accept(t.inbox, e.id);
  const claimed = await t.inbox.claim({ owner: "w", limit: 3, leaseMs: 60_000, now: NOW });
  await t.inbox.fail(claimed[0], "w", "boom", NOW + 60_000, NOW);
  await t.inbox.bury(claimed[1], "w", "boom", NOW);
  await t.inbox.complete(claimed[2], "w", NOW);

  const first = await t.run();
  assert.equal(first.alreadyStored, 3);
  assert.equal(first.new, 3);
  assert.deepEqual(
    first.stuck.map((s) => [s.id, s.status]).sort(),
    [[claimed[0].id, "failed"], [claimed[1].id, "dead"]].sort(),
  );
  assert.equal(first.requeued, 0);
  assert.equal((await t.inbox.find(claimed[1].id))[0].status, "dead");

  const dry = await t.run({ retryFailed: true, dryRun: true });
  assert.equal(dry.requeued, 2);
  assert.equal((await t.inbox.find(claimed[1].id))[0].status, "dead");

  const second = await t.run({ retryFailed: true });
  assert.equal(second.requeued, 2);
  assert.equal(second.new, 0);
  for (const c of claimed.slice(0, 2)) {
    assert.equal((await t.inbox.find(c.id))[0].status, "pending");
  }
  assert.equal((await t.inbox.find(claimed[2].id))[0].status, "done");
});

// ---- the `whd backfill` command ----

async function cliSetup() {
  const t = await setup();
  const config = testConfig([t.provider]);
  const run = (args: string[], options: { isTty?: boolean; env?: Record<string, string> } = {}) =>
    runCli(registerBackfill, ["backfill", ...args], {
      config,
      env: options.env ?? { STRIPE_SECRET_KEY: KEY },
      // The command closes the inbox it opens, as in real use.
      inbox: () => openInbox({ url: t.dbUrl }),
      isTty: options.isTty,
      clock: t.clock,
    });
  return { ...t, run };
}

Deno.test("whd backfill prints a line per page and a summary when not on a terminal", async () => {
  await using t = await cliSetup();
  seed(t.fake, 150);
  const run = await t.run(["--hours", "24"]);
  assert.equal(run.error, undefined);
  const lines = run.out.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 2), [
    "page 1: 100 found, 100 new, 0 already stored",
    "page 2: 150 found, 150 new, 0 already stored",
  ]);
  assert.match(
    run.out,
    /found 150, new 150, already stored 0, skipped by filter 0, re-queued 0, errors 0/,
  );
  assert.equal(run.out.includes("\r"), false);
  assert.equal(run.logs.join("\n").includes(KEY), false);
});

Deno.test("whd backfill draws a progress bar on a terminal", async () => {
  await using t = await cliSetup();
  seed(t.fake, 150);
  const run = await t.run([], { isTty: true });
  assert.equal(run.error, undefined);
  assert.match(run.out, /\r\[#{30}\] 100% 150 found, 150 new, 0 already stored\n/);
});

Deno.test("whd backfill --json prints the report, and exits non-zero when a page failed", async () => {
  await using t = await cliSetup();
  seed(t.fake, 250);
  t.fake.state.faults.dropEventsAfterPage = 1;
  const run = await t.run(["--json"]);
  assert.ok(run.error instanceof UserError, "an incomplete backfill is an error");
  assert.match(run.error.message, /^backfill incomplete: 1 error\(s\).*run the same command again/);
  const report = JSON.parse(run.out);
  assert.equal(report.complete, false);
  assert.equal(report.found, 100);
  assert.equal(report.new, 100);

  t.fake.state.faults.dropEventsAfterPage = undefined;
  const again = await t.run(["--json"]);
  assert.equal(again.error, undefined);
  assert.deepEqual(
    (({ found, new: n, alreadyStored, complete }) => ({ found, n, alreadyStored, complete }))(
      JSON.parse(again.out),
    ),
    { found: 250, n: 150, alreadyStored: 100, complete: true },
  );
});

Deno.test("whd backfill --dry-run says so and leaves the inbox alone", async () => {
  await using t = await cliSetup();
  seed(t.fake, 20);
  const run = await t.run(["--dry-run"]);
  assert.equal(run.error, undefined);
  assert.match(run.out, /^dry run: backfill stripe\/default, last 24h/m);
  assert.match(run.out, /dry run: nothing was changed\n$/);
  assert.equal(await rowCount(t.inbox), 0);
});

Deno.test("whd backfill rejects a bad --hours and a missing key env var with one line each", async () => {
  await using t = await cliSetup();
  const hours = await t.run(["--hours", "0"]);
  assert.ok(hours.error instanceof UserError);
  assert.match(hours.error.message, /^--hours must be a number of hours above 0 and at most 720/);
  assert.equal(hours.error.exitCode, 2);
  const env = await t.run([], { env: {} });
  assert.ok(env.error instanceof UserError);
  assert.match(env.error.message, /^set STRIPE_SECRET_KEY/);
  assert.equal(t.fake.state.requests.length, 0);
});

Deno.test("a 429 that never ends gives up with a one-line error after bounded retries", async () => {
  await using t = await setup();
  seed(t.fake, 3);
  t.fake.state.faults.rateLimit = { count: 100, retryAfter: "1" };
  const waits: number[] = [];
  const error = await t.run({ sleep: (ms) => (waits.push(ms), Promise.resolve()) })
    .then(() => null, (e) => e);
  assert.ok(error instanceof UserError);
  assert.match(error.message, /^Stripe kept rate limiting requests \(429\) while listing events/);
  assert.equal(waits.length, 6);
  assert.equal(eventRequests(t.fake).length, 7);
});

Deno.test("a backfilled event takes the delivery's path: counted in whd_events_total and wakes the dispatcher", async () => {
  await using t = await setup();
  const [first] = seed(t.fake, 2);
  await accept(t.inbox, first.id);
  const metrics = new Metrics();
  const woken: string[] = [];
  const report = await t.run({ metrics, onAccepted: (k) => woken.push(k.id) });
  assert.equal(report.new, 1);
  const count = (result: string) =>
    seriesValue(metrics, "whd_events_total", { provider: "stripe", result });
  assert.deepEqual([count("stored"), count("duplicate")], [1, 1]);
  assert.equal(woken.length, 1);
  assert.notEqual(woken[0], first.id);
});
