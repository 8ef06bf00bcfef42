/**
 * `whd init` as a user runs it: into an empty directory, then `whd check`, `whd serve` from that
 * directory with its whd.env, and signed deliveries (the Stripe SDK as the oracle for Stripe's
 * scheme, `whd send` for GitHub's) that end up stored and handled.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Stripe from "stripe";
import { startWhd, whd, type WhdOptions } from "./helpers/whd_process.ts";

/** NAME=value lines of an env file (comments and blank lines skipped). */
function readEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1]] = match[2];
  }
  return env;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "whd_init_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Listed {
  id: string;
  provider: string;
  type: string;
  status: string;
  source: string;
}

async function listEvents(options: WhdOptions): Promise<Listed[]> {
  const run = await whd(["events", "list", "--json"], options);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

Deno.test("init into an empty directory: check passes, serve stores and handles signed deliveries", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "site"); // created by init
    const init = await whd(["init", target, "--provider", "stripe,github"]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /wrote whd\.yaml, whd\.schema\.json, whd\.env, whd\.service/);

    const config = await Deno.readTextFile(join(target, "whd.yaml"));
    assert.equal(config.split("\n")[0], "# yaml-language-server: $schema=whd.schema.json");
    const schema = JSON.parse(await Deno.readTextFile(join(target, "whd.schema.json")));
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.equal((await Deno.stat(join(target, "whd.env"))).mode! & 0o777, 0o600);
    await Deno.stat(join(target, "handlers", "stripe", "_default.ts"));
    await Deno.stat(join(target, "handlers", "github", "_default.ts"));
    const unit = await Deno.readTextFile(join(target, "whd.service"));
    assert.match(unit, new RegExp(`^WorkingDirectory=${target}$`, "m"));
    assert.match(unit, new RegExp(`^EnvironmentFile=${target}/whd\\.env$`, "m"));
    assert.match(unit, new RegExp(`^ExecStart=\\S+ serve --config ${target}/whd\\.yaml$`, "m"));

    const envText = await Deno.readTextFile(join(target, "whd.env"));
    const env = readEnv(envText);
    assert.equal(env.WHD_CONFIG, "whd.yaml");
    assert.match(env.STRIPE_WEBHOOK_SECRET, /^whsec_local_[0-9a-f]{48}$/);
    assert.match(env.GITHUB_WEBHOOK_SECRET, /^[0-9a-f]{64}$/);
    assert.match(envText, /PLACEHOLDER\. Stripe issues this secret/);

    const inDir: WhdOptions = { cwd: target, envFile: join(target, "whd.env") };
    const check = await whd(["check", "--config", join(target, "whd.yaml")], inDir);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /\/webhooks\/stripe +stripe/);
    assert.match(check.stdout, /handlers in handlers: 2 file\(s\), all load and can run/);

    const server = await startWhd([], inDir); // WHD_CONFIG=whd.yaml from whd.env
    try {
      const payload = JSON.stringify({
        id: "evt_init_1",
        object: "event",
        type: "payment_intent.succeeded",
        data: { object: { id: "pi_1" } },
      });
      const header = await new Stripe("sk_test_unused").webhooks.generateTestHeaderStringAsync({
        payload,
        secret: env.STRIPE_WEBHOOK_SECRET,
      });
      const response = await fetch(`${server.url}/webhooks/stripe`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": header },
        body: payload,
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { received: true });

      const forged = await new Stripe("sk_test_unused").webhooks.generateTestHeaderStringAsync({
        payload,
        secret: "whsec_not_the_generated_one",
      });
      const refused = await fetch(`${server.url}/webhooks/stripe`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": forged },
        body: payload,
      });
      assert.equal(refused.status, 400);
      await refused.body?.cancel();

      const send = await whd(
        [
          "send",
          "--provider",
          "github",
          "--type",
          "push",
          "--url",
          `${server.url}/webhooks/github`,
        ],
        inDir,
      );
      assert.equal(send.code, 0, send.stderr);

      // The generated _default.ts handlers run: wait until both events are done.
      let events: Listed[] = [];
      for (let i = 0; i < 100; i++) {
        events = await listEvents(inDir);
        if (events.length === 2 && events.every((e) => e.status === "done")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(
        events.map((e) => [e.provider, e.type, e.status]).sort(),
        [["github", "push", "done"], ["stripe", "payment_intent.succeeded", "done"]],
      );
    } finally {
      const status = await server.stop();
      assert.equal(status.code, 0, server.logs());
    }
    assert.match(server.logs(), /received/); // the example handler's log line
    await Deno.stat(join(target, "data", "whd.db")); // relative to the working directory
  });
});

Deno.test("init never overwrites without --force, and names what exists", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "whd.env"), "MINE=1\n");
    const refused = await whd(["init", dir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^whd: whd\.env already exists in .*--force/);
    assert.equal(refused.stderr.trim().split("\n").length, 1);
    assert.equal(await Deno.readTextFile(join(dir, "whd.env")), "MINE=1\n");
    // Nothing else was written either.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["whd.env"]);

    const forced = await whd(["init", dir, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    const env = await Deno.readTextFile(join(dir, "whd.env"));
    assert.match(env, /^STRIPE_WEBHOOK_SECRET=whsec_local_/m);
    assert.equal((await Deno.stat(join(dir, "whd.env"))).mode! & 0o777, 0o600);

    const again = await whd(["init", dir]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /whd\.yaml, whd\.schema\.json, whd\.env, whd\.service, .* already exist/,
    );
  });
});

Deno.test("init generates fresh secrets each time", async () => {
  await withTempDir(async (dir) => {
    const a = await whd(["init", join(dir, "a"), "--provider", "standard,github"]);
    const b = await whd(["init", join(dir, "b"), "--provider", "standard,github"]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const envA = readEnv(await Deno.readTextFile(join(dir, "a", "whd.env")));
    const envB = readEnv(await Deno.readTextFile(join(dir, "b", "whd.env")));
    assert.match(envA.STANDARD_WEBHOOK_SECRET, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(envA.STANDARD_WEBHOOK_SECRET, envB.STANDARD_WEBHOOK_SECRET);
    assert.notEqual(envA.GITHUB_WEBHOOK_SECRET, envB.GITHUB_WEBHOOK_SECRET);
    assert.equal(envA.STRIPE_WEBHOOK_SECRET, undefined); // only the providers named
    // The Standard Webhooks secret passes whd's own check of its format.
    const check = await whd(["check"], {
      cwd: join(dir, "a"),
      envFile: join(dir, "a", "whd.env"),
    });
    assert.equal(check.code, 0, check.stderr);
  });
});

Deno.test("init refuses an unknown provider with a usage error", async () => {
  await withTempDir(async (dir) => {
    const run = await whd(["init", dir, "--provider", "stripe,paypal"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^whd: --provider "paypal" is not one init can set up: use stripe, /);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("init --database writes that URL and keeps the config valid", async () => {
  await withTempDir(async (dir) => {
    const url = `file:${dir}/state/whd.db`;
    const run = await whd(["init", dir, "--database", url]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /may write only to \/var\/lib\/whd/);
    const config = await Deno.readTextFile(join(dir, "whd.yaml"));
    assert.match(config, new RegExp(`^  url: "${url}"$`, "m"));
    const events = await whd(["events", "list"], { cwd: dir, envFile: join(dir, "whd.env") });
    assert.equal(events.code, 0, events.stderr);
    await Deno.stat(join(dir, "state", "whd.db"));
  });
});
