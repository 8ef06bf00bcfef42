/**
 * whd as a user runs it: real child processes, the example config, the demo env file.
 */
import assert from "node:assert/strict";
import { REPO, startWhd, whd } from "./helpers/whd_process.ts";

/** A copy of the example set-up (config, demo env, handlers) in a fresh working directory. */
async function demoDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "whd_cli_test_" });
  await new Deno.Command("cp", { args: ["-r", `${REPO}config`, `${REPO}handlers`, dir] }).output();
  return dir;
}

Deno.test("whd --help lists every subcommand and --version prints the version", async () => {
  const help = await whd(["--help"]);
  assert.equal(help.code, 0);
  for (const command of ["serve", "check", "events", "handlers", "send", "backfill", "endpoints"]) {
    assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
  }
  const version = await whd(["--version"]);
  assert.equal(version.code, 0);
  const { version: expected } = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`));
  assert.equal(version.stdout.trim(), expected);
});

Deno.test("a subcommand's --help lists its flags without reading any config", async () => {
  const result = await whd(["events", "list", "--help"], {
    env: { WHD_CONFIG: "/nonexistent.yaml" },
  });
  assert.equal(result.code, 0);
  for (const flag of ["--status", "--provider", "--limit", "--json"]) {
    assert.ok(result.stdout.includes(flag));
  }
});

Deno.test("an unknown flag is a usage error with exit code 2", async () => {
  const result = await whd(["events", "list", "--bogus"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown option '--bogus'/);
});

Deno.test("whd check prints the route table of the example config with the demo secrets", async () => {
  const result = await whd(["check", "--config", "config/whd.yaml"], {
    envFile: `${REPO}config/demo.env`,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /METHOD\s+PATH\s+PROVIDER\s+WEBHOOK\s+VERIFICATION/);
  assert.match(result.stdout, /POST\s+\/webhooks\/stripe\s+stripe\s+default\s+stripe/);
  assert.match(result.stdout, /POST\s+\/webhooks\/github\s+github/);
});

Deno.test("whd check without the secrets names each missing env var and the demo env, exit 1", async () => {
  const result = await whd(["check", "--config", "config/whd.yaml"], {
    env: { STRIPE_WEBHOOK_SECRET: "", GITHUB_WEBHOOK_SECRET: "" },
  });
  assert.equal(result.code, 1);
  assert.match(result.stdout, /providers\.stripe\.webhooks\.default\.signing_secret_env/);
  assert.match(result.stdout, /STRIPE_WEBHOOK_SECRET is empty/);
  assert.match(result.stdout, /deno task check:demo/);
  assert.match(
    result.stdout,
    /providers\.slack\.webhooks\.default\.signing_secret_env: .*SLACK_SIGNING_SECRET is not set/,
  );
  assert.doesNotMatch(result.stderr, /\n\s+at /);
});

Deno.test("an invalid config is reported with its YAML path and line, exit 2, before anything listens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "providers:\n  stripe:\n    webhooks:\n      default:\n        pathh: /x\n",
    );
    const result = await whd(["serve", "--config", `${dir}/bad.yaml`, "--port", "0"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /providers\.stripe\.webhooks\.default/);
    assert.match(result.stderr, /line 5/);
    assert.match(result.stderr, /pathh/);
    assert.doesNotMatch(result.stderr, /listening/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the demo: serve the example config, send a signed sample, see it once in events list", async () => {
  const dir = await demoDir();
  const server = await startWhd(["--config", "config/whd.yaml"], {
    cwd: dir,
    envFile: `${dir}/config/demo.env`,
  });
  try {
    const sent = await whd(
      [
        "send",
        "--provider",
        "stripe",
        "--type",
        "payment_intent.succeeded",
        "--url",
        `${server.url}/webhooks/stripe`,
      ],
      { cwd: dir, envFile: `${dir}/config/demo.env` },
    );
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /→ 200 \{"received":true\}/);

    const listed = await whd(["events", "list", "--json"], { cwd: dir });
    assert.equal(listed.code, 0, listed.stderr);
    const events = JSON.parse(listed.stdout);
    assert.equal(events.length, 1);
    for (const key of ["id", "provider", "webhook", "type", "status", "attempts", "received_at"]) {
      assert.ok(key in events[0], `events list --json lacks ${key}`);
    }
    assert.equal(events[0].provider, "stripe");
    assert.equal(events[0].type, "payment_intent.succeeded");

    const shown = await whd(["events", "show", events[0].id, "--json"], { cwd: dir });
    assert.equal(JSON.parse(shown.stdout).payload.id, events[0].id);
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.logs());
    assert.match(server.logs(), /stopped/);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a SIGTERM the moment whd says listening stops it gracefully (exit 0), never kills it", async () => {
  const dir = await demoDir();
  try {
    // The signal goes out as soon as the "listening" line is read, while whd is still starting
    // its handlers: before the fix this was a kill (exit 143, no "stopped") now and then.
    for (let i = 0; i < 5; i++) {
      const server = await startWhd(["--config", "config/whd.yaml"], {
        cwd: dir,
        envFile: `${dir}/config/demo.env`,
      });
      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 0, `try ${i + 1}: exit ${status.code}\n${server.logs()}`);
      assert.match(server.logs(), /shutting down signal=SIGTERM/);
      assert.match(server.logs(), /stopped/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port already in use is a one-line error naming the port and the fix, not a crash", async () => {
  const dir = await demoDir();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = blocker.addr as Deno.NetAddr;
  try {
    const result = await whd(
      ["serve", "--config", "config/whd.yaml", "--host", "127.0.0.1", "--port", String(port)],
      { cwd: dir, envFile: `${dir}/config/demo.env` },
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`),
    );
    assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
  } finally {
    blocker.close();
    await Deno.remove(dir, { recursive: true });
  }
});
