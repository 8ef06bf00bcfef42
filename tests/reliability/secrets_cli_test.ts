/**
 * Canary secrets through the subcommands `secrets_test.ts` does not run: `send`, `backfill` and
 * `endpoints` against the fake Stripe API (the real `stripe` SDK talking to it), including the
 * failure path where Stripe refuses the key, plus the admin token (`admin.token_env`) through
 * `serve`, `check` and the admin listener's answers. No secret appears in any form.
 */
import assert from "node:assert/strict";
import { startFakeStripe } from "../fakes/stripe_api.ts";
import { startWhd } from "../helpers/whd_process.ts";
import { CANARIES, leakIn, project } from "./_project.ts";
import { adminUrl } from "./_store.ts";

const ADMIN_TOKEN = "admin_canary_tok_5e6f7a8b9c0d1e2f";

/** The admin token in any form a scrubber misses: raw, JSON-escaped, URL-encoded, base64. */
function adminLeak(text: string): boolean {
  return [ADMIN_TOKEN, encodeURIComponent(ADMIN_TOKEN), btoa(ADMIN_TOKEN).slice(0, 16)]
    .some((form) => text.includes(form));
}

Deno.test("secrets: send, backfill, endpoints (fake Stripe) and the admin token leak nothing", async () => {
  const fake = await startFakeStripe({ keys: [CANARIES.STRIPE_SECRET_KEY] });
  const refusing = await startFakeStripe({ keys: ["sk_test_other"] });
  const p = await project({ log: { level: "debug" } });
  try {
    const now = Math.floor(Date.now() / 1000);
    fake.addEvent({ type: "invoice.paid", created: now - 60 });
    fake.addEvent({ type: "payment_intent.succeeded", created: now - 30 });
    const configPath = p.path("config/whd.yaml");
    const yaml = await Deno.readTextFile(configPath);
    const withApi = (base: string) =>
      `admin:\n  token_env: WHD_ADMIN_TOKEN\n` +
      yaml.replace("api_base: http://127.0.0.1:9", `api_base: ${base}`)
        .replace("server:\n", "server:\n  public_url: https://hooks.example.com\n");
    await Deno.writeTextFile(configPath, withApi(fake.url));
    // p.cli runs with p.env: every subcommand sees the admin token too.
    p.env.WHD_ADMIN_TOKEN = ADMIN_TOKEN;
    const env = p.env;
    const server = await startWhd([], { cwd: p.dir, env });
    let text = "";
    try {
      const admin = adminUrl(server);
      for (const path of ["/healthz", "/readyz", "/metrics", "/nope"]) {
        for (const auth of [`Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`]) {
          const response = await fetch(`${admin}${path}`, { headers: { authorization: auth } });
          text += await response.text();
        }
      }
      const runs: [string[], number][] = [
        [["send", "--provider", "stripe", "--url", `${server.url}/hooks/stripe`], 0],
        [[
          "send",
          "--provider",
          "shop",
          "--data",
          '{"id":"evt_send","type":"order.created"}',
          "--url",
          `${server.url}/hooks/shop`,
        ], 0],
        [["backfill", "--hours", "1", "--dry-run", "--json"], 0],
        [["backfill", "--hours", "1"], 0],
        [["endpoints", "list"], 0],
        [["endpoints", "list", "--json"], 0],
        [["endpoints", "create", "--webhook", "default", "--secret-file", "new.env"], 0],
        [["endpoints", "sync"], 0],
        [["check", "--json"], 0],
        [["check"], 0],
      ];
      for (const [args, code] of runs) {
        const run = await p.cli(...args);
        text += run.stdout + run.stderr;
        assert.equal(run.code, code, `whd ${args.join(" ")}: ${run.stderr}`);
        assert.equal(leakIn(run.stdout + run.stderr), undefined, `whd ${args.join(" ")}`);
      }
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    text += server.logs();
    // Stripe refuses the key: the error says so without the key.
    await Deno.writeTextFile(configPath, withApi(refusing.url));
    for (const args of [["backfill", "--hours", "1"], ["endpoints", "list"]]) {
      const run = await p.cli(...args);
      assert.notEqual(run.code, 0, `whd ${args.join(" ")} with a refused key`);
      text += run.stdout + run.stderr;
    }
    assert.equal(leakIn(text), undefined, `leaked: ${leakIn(text)}`);
    assert.equal(adminLeak(text), false, "the admin token leaked");
    assert.ok(fake.state.requests.length >= 4, "the fake Stripe API was not used");
  } finally {
    await p.remove();
    await fake.close();
    await refusing.close();
  }
});
