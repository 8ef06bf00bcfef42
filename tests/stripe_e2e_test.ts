/**
 * End to end through the real CLI in child processes against the fake Stripe API:
 * `endpoints sync --yes`, then `backfill --hours 24` twice, then `events list --json`.
 * Runs once main.ts (the lead's entry point) is present.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeStripe } from "./fakes/stripe_api.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = join(ROOT, "main.ts");
const hasMain = await Deno.stat(MAIN).then(() => true, () => false);
const KEY = "sk_test_e2e_0123456789";

async function whd(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test({
  name:
    "endpoints sync --yes then backfill --hours 24 stores every event of the last day exactly once",
  ignore: !hasMain,
  async fn() {
    await using fake = await startFakeStripe({ keys: [KEY] }).then((f) =>
      Object.assign(f, { [Symbol.asyncDispose]: () => f.close() })
    );
    const dir = await Deno.makeTempDir({ prefix: "whd_e2e_" });
    try {
      const now = Math.floor(Date.now() / 1000);
      const ids = Array.from({ length: 230 }, (_, i) =>
        fake.addEvent({
          type: i % 2 ? "invoice.paid" : "customer.subscription.updated",
          created: now - 60 - i * 300,
        }).id);
      fake.addEvent({ type: "invoice.paid", created: now - 2 * 86_400 }); // too old
      const configPath = join(dir, "whd.yaml");
      await Deno.writeTextFile(
        configPath,
        `server:
  port: 0
  public_url: https://hooks.example.com
database:
  url: file:${join(dir, "whd.db")}
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: ${fake.url}
    api_version: "2024-06-20"
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        events: [invoice.paid, customer.subscription.*]
`,
      );
      const secretFile = join(dir, "whd.env");
      const inherited = Object.fromEntries(
        ["PATH", "HOME", "DENO_DIR"].flatMap((n) => Deno.env.has(n) ? [[n, Deno.env.get(n)!]] : []),
      );
      const env = {
        ...inherited,
        STRIPE_SECRET_KEY: KEY,
        STRIPE_WEBHOOK_SECRET: "whsec_placeholder_until_sync",
      };
      const config = ["--config", configPath];

      const sync = await whd(
        [...config, "endpoints", "sync", "--yes", "--secret-file", secretFile],
        env,
      );
      assert.equal(sync.code, 0, sync.stderr);
      assert.equal(fake.state.endpoints.length, 1);
      const secret = fake.state.endpoints[0].secret;
      assert.equal(await Deno.readTextFile(secretFile), `STRIPE_WEBHOOK_SECRET=${secret}\n`);
      assert.equal(sync.stdout.includes(secret) || sync.stderr.includes(secret), false);

      const first = await whd([...config, "backfill", "--hours", "24", "--json"], env);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).new, 230);
      const second = await whd([...config, "backfill", "--hours", "24", "--json"], env);
      assert.equal(second.code, 0, second.stderr);
      const again = JSON.parse(second.stdout);
      assert.equal(again.new, 0);
      assert.equal(again.alreadyStored, 230);

      const list = await whd([...config, "events", "list", "--json", "--limit", "1000"], env);
      assert.equal(list.code, 0, list.stderr);
      const parsed = JSON.parse(list.stdout);
      const rows: { id: string }[] = Array.isArray(parsed) ? parsed : parsed.events;
      assert.deepEqual(rows.map((r) => r.id).sort(), [...ids].sort());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
