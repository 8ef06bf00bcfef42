/**
 * Issue 5 end to end, the way a user meets it: the real CLI and the real daemon in child
 * processes against the fake Stripe API. `whd endpoints sync --yes` registers the endpoint and
 * writes its signing secret, `whd serve` (reading that secret file) receives some events as
 * signed deliveries, `whd backfill --hours 24` brings in the rest of the last day, and the
 * handlers run for each event exactly once. Also the one-line errors of a missing key, a
 * rejected key and an unreachable API.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { type FakeEvent, type FakeStripe, startFakeStripe } from "./fakes/stripe_api.ts";
import { startWhd, whd, type WhdOptions, type WhdRun } from "./helpers/whd_process.ts";

const KEY = "sk_test_e2e_0123456789abcdef";
const ALLOWED = ["invoice.paid", "customer.subscription.updated", "customer.subscription.created"];
const OUTSIDE = "charge.succeeded";
const HOUR = 3_600;

/** The stored events as `whd events list --json` prints them. */
interface Listed {
  id: string;
  status: string;
  attempts: number;
  source: string;
  type: string;
}

function configYaml(dir: string, apiBase: string): string {
  return `server:
  port: 0
  public_url: https://hooks.example.com
database:
  url: file:${join(dir, "whd.db")}
handlers:
  dir: ${join(dir, "handlers")}
  watch: false
log:
  format: json
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: ${apiBase}
    api_version: "2024-06-20"
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [invoice.paid, customer.subscription.*]
`;
}

/** A TS handler for every stripe type that appends the event id to `file`. */
function appendingHandler(file: string): string {
  return `export default async (event) => {
  await Deno.writeTextFile(${JSON.stringify(file)}, event.id + "\\n", { append: true });
};
`;
}

/** Posts `event` to whd as Stripe would: its JSON, signed with the SDK's test header. */
async function deliver(url: string, event: FakeEvent, secret: string): Promise<Response> {
  const payload = JSON.stringify(event);
  const header = await new Stripe("sk_test_unused").webhooks.generateTestHeaderStringAsync({
    payload,
    secret,
  });
  return await fetch(`${url}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body: payload,
  });
}

async function listEvents(config: string[], options: WhdOptions): Promise<Listed[]> {
  const run = await whd([...config, "events", "list", "--json", "--limit", "10000"], options);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** Polls `events list` until `done(rows)`; fails with the last rows after 60 s. */
async function waitForEvents(
  config: string[],
  options: WhdOptions,
  done: (rows: Listed[]) => boolean,
  what: string,
): Promise<Listed[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await listEvents(config, options);
    if (done(rows)) return rows;
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {};
      for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
      assert.fail(`${what} did not happen in 60 s; ${rows.length} rows: ${JSON.stringify(counts)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Waits (cheaply, reading the file) until the handler has written `count` lines, so the
 * `events list` polls that follow start a child process only a few times. Gives up quietly
 * after 60 s and lets the assertions that follow say what is missing.
 */
async function waitForLines(file: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await handledIds(file)).length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function handledIds(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l.length > 0);
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

function assertNoSecrets(run: WhdRun | string, ...secrets: string[]): void {
  const text = typeof run === "string" ? run : run.stdout + run.stderr;
  for (const s of secrets) assert.equal(text.includes(s), false, "output contains a secret");
}

Deno.test({
  name:
    "endpoints sync --yes, serve, deliveries, then backfill --hours 24: every event of the last day is stored and handled exactly once; a second backfill changes nothing",
  async fn() {
    const fake = await startFakeStripe({ keys: [KEY] });
    const dir = await Deno.makeTempDir({ prefix: "whd_e2e_" });
    let server: Awaited<ReturnType<typeof startWhd>> | undefined;
    try {
      await Deno.mkdir(join(dir, "handlers", "stripe"), { recursive: true });
      const handledFile = join(dir, "handled.txt");
      await Deno.writeTextFile(
        join(dir, "handlers", "stripe", "_default.ts"),
        appendingHandler(handledFile),
      );
      const configPath = join(dir, "whd.yaml");
      await Deno.writeTextFile(configPath, configYaml(dir, fake.url));
      const config = ["--config", configPath];
      const env = { STRIPE_SECRET_KEY: KEY };

      // The account's last day (and a bit more), newest first: 230 events the webhook takes,
      // 30 it does not, 5 older than 24 hours. 265 listed in the window → 3 pages of 100.
      const now = Math.floor(Date.now() / 1000);
      const wanted: FakeEvent[] = [];
      for (let i = 0; i < 260; i++) {
        const created = now - 30 - i * 300; // the oldest is about 21.7 hours old
        if ([5, 13, 21].includes(i % 26)) fake.addEvent({ type: OUTSIDE, created });
        else wanted.push(fake.addEvent({ type: ALLOWED[i % ALLOWED.length], created }));
      }
      const tooOld = [25, 30, 36, 47, 70].map((h) =>
        fake.addEvent({ type: "invoice.paid", created: now - h * HOUR })
      );

      // 1. Register the endpoint; its signing secret goes to the secret file only.
      const secretFile = join(dir, "whd.env");
      const sync = await whd(
        [...config, "endpoints", "sync", "--yes", "--secret-file", secretFile],
        { env },
      );
      assert.equal(sync.code, 0, sync.stderr);
      assert.equal(fake.state.endpoints.length, 1);
      const endpoint = fake.state.endpoints[0];
      assert.equal(endpoint.url, "https://hooks.example.com/webhooks/stripe");
      assert.ok(endpoint.enabled_events.includes("invoice.paid"));
      assert.ok(endpoint.enabled_events.includes("customer.subscription.deleted"));
      assert.ok(
        endpoint.enabled_events.every((e) =>
          e === "invoice.paid" || (e.startsWith("customer.subscription.") && !e.includes("*"))
        ),
        `the family was not expanded: ${endpoint.enabled_events}`,
      );
      const secret = endpoint.secret;
      assert.equal(await Deno.readTextFile(secretFile), `STRIPE_WEBHOOK_SECRET=${secret}\n`);
      assert.equal((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
      assertNoSecrets(sync, secret, KEY);

      const resync = await whd([...config, "endpoints", "sync", "--yes"], { env });
      assert.equal(resync.code, 0, resync.stderr);
      assert.match(resync.stdout, /in sync: nothing to do/);
      assert.equal(fake.state.endpoints.length, 1);

      // 2. The daemon, with the secret file as its env, receives the 40 newest as deliveries
      // (one of them twice, as Stripe may).
      server = await startWhd(config, { env, envFile: secretFile });
      const delivered = wanted.slice(0, 40);
      for (const event of [...delivered, delivered[3]]) {
        const res = await deliver(server.url, event, secret);
        const body = await res.text();
        assert.equal(res.status, 200, `${event.id}: ${body}`);
      }
      const forged = await deliver(server.url, wanted[50], "whsec_not_the_secret");
      assert.equal(forged.status, 400);
      await forged.body?.cancel();

      // 3. Backfill the last day while the daemon runs.
      const first = await whd([...config, "backfill", "--hours", "24", "--json"], { env });
      assert.equal(first.code, 0, first.stderr);
      assertNoSecrets(first, secret, KEY);
      const report = JSON.parse(first.stdout);
      assert.equal(report.complete, true);
      assert.equal(report.pages, 3);
      assert.equal(report.found, 260);
      assert.equal(report.skipped, 30);
      assert.equal(report.new, 190);
      assert.equal(report.alreadyStored, 40);
      assert.deepEqual(report.errors, []);

      // 4. The daemon's dispatcher runs the handler for each of them.
      const expected = sorted(wanted.map((e) => e.id));
      await waitForLines(handledFile, expected.length);
      const rows = await waitForEvents(
        config,
        { env },
        (rows) => rows.length >= expected.length && rows.every((r) => r.status === "done"),
        "every event done",
      );
      assert.deepEqual(sorted(rows.map((r) => r.id)), expected);
      assert.ok(rows.every((r) => r.attempts === 1));
      const deliveredIds = new Set(delivered.map((e) => e.id));
      for (const r of rows) {
        assert.equal(r.source, deliveredIds.has(r.id) ? "delivery" : "backfill", r.id);
      }
      assert.deepEqual(sorted(await handledIds(handledFile)), expected);
      for (const e of [...tooOld, ...fake.state.events.filter((e) => e.type === OUTSIDE)]) {
        assert.equal(rows.some((r) => r.id === e.id), false, `${e.id} should not be stored`);
      }

      // 5. Again: nothing new, nothing re-queued.
      const second = await whd([...config, "backfill", "--hours", "24", "--json"], { env });
      assert.equal(second.code, 0, second.stderr);
      const again = JSON.parse(second.stdout);
      assert.equal(again.new, 0);
      assert.equal(again.alreadyStored, 230);
      assert.equal(again.requeued, 0);

      // A fresh delivery after it goes through the same dispatcher; once it is done, the
      // handler has still run once per event and every earlier event is untouched.
      const fresh = fake.addEvent({ type: "invoice.paid", created: Math.floor(Date.now() / 1000) });
      const res = await deliver(server.url, fresh, secret);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      await waitForLines(handledFile, expected.length + 1);
      const after = await waitForEvents(
        config,
        { env },
        (rows) => rows.some((r) => r.id === fresh.id && r.status === "done"),
        "the fresh delivery done",
      );
      assert.deepEqual(sorted(after.map((r) => r.id)), sorted([...expected, fresh.id]));
      assert.ok(after.every((r) => r.status === "done" && r.attempts === 1));
      assert.deepEqual(sorted(await handledIds(handledFile)), sorted([...expected, fresh.id]));

      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 0, server.logs());
      assertNoSecrets(server.logs(), secret, KEY);
      server = undefined;
    } finally {
      await server?.stop("SIGKILL");
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Runs `backfill` and `endpoints sync --yes` against `apiBase` with `env`. */
async function bothCommands(
  apiBase: string,
  env: Record<string, string>,
): Promise<{ backfill: WhdRun; sync: WhdRun; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "whd_e2e_err_" });
  const configPath = join(dir, "whd.yaml");
  await Deno.writeTextFile(configPath, configYaml(dir, apiBase));
  const config = ["--config", configPath];
  const [backfill, sync] = await Promise.all([
    whd([...config, "backfill", "--hours", "24"], { env }),
    whd([...config, "endpoints", "sync", "--yes", "--secret-file", join(dir, "whd.env")], {
      env,
    }),
  ]);
  return { backfill, sync, dir };
}

/** Exit 1, exactly one line on stderr starting with `whd: ` and matching `pattern`, no trace. */
function assertOneLineError(run: WhdRun, pattern: RegExp, ...secrets: string[]): void {
  assert.equal(run.code, 1, run.stderr);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0], /^whd: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(run.stderr, /\bat .*\.(ts|js|mjs):\d+|internal error/);
  assertNoSecrets(run, ...secrets);
}

async function withFake(fn: (fake: FakeStripe) => Promise<void>): Promise<void> {
  const fake = await startFakeStripe({ keys: [KEY] });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

Deno.test("without STRIPE_SECRET_KEY, backfill and endpoints sync say which variable to set, in one line", async () => {
  await withFake(async (fake) => {
    // Unset in the child unless the runner itself has it, then empty (treated the same).
    const env: Record<string, string> = Deno.env.has("STRIPE_SECRET_KEY")
      ? { STRIPE_SECRET_KEY: "" }
      : {};
    const { backfill, sync, dir } = await bothCommands(fake.url, env);
    try {
      for (const run of [backfill, sync]) {
        assertOneLineError(run, /set STRIPE_SECRET_KEY to your Stripe secret key/);
      }
      assert.equal(fake.state.requests.length, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("a key Stripe rejects (401) is reported in one line without the key", async () => {
  await withFake(async (fake) => {
    const wrong = "sk_test_wrongkey0000zzzz";
    const { backfill, sync, dir } = await bothCommands(fake.url, { STRIPE_SECRET_KEY: wrong });
    try {
      for (const run of [backfill, sync]) {
        assertOneLineError(
          run,
          /STRIPE_SECRET_KEY was rejected by Stripe \(401\)/,
          wrong,
          "zzzz",
        );
      }
      assert.ok(fake.state.requests.length >= 2);
      assert.ok(fake.state.requests.every((r) => r.status === 401));
      assert.equal(fake.state.endpoints.length, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("an unreachable API is reported in one line naming api_base", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const base = `http://127.0.0.1:${port}`;
  const { backfill, sync, dir } = await bothCommands(base, { STRIPE_SECRET_KEY: KEY });
  try {
    for (const run of [backfill, sync]) {
      assertOneLineError(
        run,
        new RegExp(`cannot reach the Stripe API at ${base.replaceAll(".", "\\.")}.*api_base`),
        KEY,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
