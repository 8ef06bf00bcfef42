/**
 * Exit codes of every subcommand, read from the status of a real `deno run main.ts …` process:
 * 0 success, 1 failure, 2 invalid config or usage.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startWhd, whd, type WhdRun } from "./helpers/whd_process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const SECRET_ENV = "WHD_EXIT_TEST_STRIPE_SECRET";
const KEY_ENV = "WHD_EXIT_TEST_STRIPE_KEY";

/** A minimal working directory: whd.yaml, handlers/, the database under data/. */
async function workDir(dir: string, extra: { yaml?: string; files?: Record<string, string> } = {}) {
  await Deno.writeTextFile(
    join(dir, "whd.yaml"),
    extra.yaml ??
      `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
  dir: handlers
providers:
  stripe:
    api_key_env: ${KEY_ENV}
    api_base: http://127.0.0.1:9
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: ${SECRET_ENV}
        events: [invoice.paid, customer.subscription.*]
`,
  );
  await Deno.mkdir(join(dir, "handlers", "stripe"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "handlers", "stripe", "invoice.paid.ts"),
    "export default () => {};\n",
  );
  for (const [path, text] of Object.entries(extra.files ?? {})) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
}

function run(dir: string, args: string[], env: Record<string, string> = {}): Promise<WhdRun> {
  return whd(["--config", "whd.yaml", ...args], {
    cwd: dir,
    env: { [SECRET_ENV]: "whsec_exit_test_secret", [KEY_ENV]: "", ...env },
  });
}

function assertExit(result: WhdRun, code: number, what: RegExp) {
  assert.equal(result.code, code, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout + result.stderr, what);
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
}

/** A port nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("exit codes: whd send", async (t) => {
  await using dir = await tempDir();
  await workDir(dir.path);
  const sendArgs = ["send", "--provider", "stripe", "--type", "invoice.paid"];

  await t.step("daemon unreachable → 1", async () => {
    const url = `http://127.0.0.1:${closedPort()}/webhooks/stripe`;
    assertExit(await run(dir.path, [...sendArgs, "--url", url]), 1, /cannot reach whd/);
  });
  await t.step("unknown flag → 2", async () => {
    assertExit(await run(dir.path, [...sendArgs, "--bogus"]), 2, /unknown option '--bogus'/);
  });
  await t.step("unknown provider → 2", async () => {
    assertExit(await run(dir.path, ["send", "--provider", "nope"]), 2, /nope/);
  });

  const server = await startWhd(["--config", "whd.yaml"], {
    cwd: dir.path,
    env: { [SECRET_ENV]: "whsec_exit_test_secret" },
  });
  try {
    const url = `${server.url}/webhooks/stripe`;
    await t.step(
      "daemon answers 400 (signed with another secret) → 1, its answer printed",
      async () => {
        const result = await run(dir.path, [...sendArgs, "--url", url], {
          [SECRET_ENV]: "whsec_some_other_secret",
        });
        assertExit(result, 1, /→ 400 \{"error":"bad_signature"/);
      },
    );
    await t.step("daemon answers 200 → 0", async () => {
      assertExit(await run(dir.path, [...sendArgs, "--url", url]), 0, /→ 200 \{"received":true\}/);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("exit codes: whd check", async (t) => {
  await t.step("everything serve needs is there → 0", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    assertExit(await run(dir.path, ["check"]), 0, /OK: whd serve would start/);
  });
  await t.step("invalid config → 2", async () => {
    await using dir = await tempDir();
    await workDir(dir.path, { yaml: "providers:\n  stripe:\n    webhookz: {}\n" });
    assertExit(await run(dir.path, ["check"]), 2, /webhookz/);
  });
  await t.step("unknown flag → 2", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    assertExit(await run(dir.path, ["check", "--bogus"]), 2, /unknown option/);
  });
  await t.step("missing secret → 1, naming the variable", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    const result = await run(dir.path, ["check"], { [SECRET_ENV]: "" });
    assertExit(result, 1, new RegExp(`secrets: .*${SECRET_ENV} is empty`));
    assert.match(result.stdout, /--env-file/);
  });
  await t.step("a handler that fails to load → 1", async () => {
    await using dir = await tempDir();
    await workDir(dir.path, {
      files: {
        "handlers/stripe/customer.subscription.*.ts":
          'import x from "left-pad";\nexport default x;\n',
      },
    });
    assertExit(await run(dir.path, ["check"]), 1, /handlers: .*left-pad/);
  });
  await t.step("handlers dir missing → 1", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    await Deno.remove(join(dir.path, "handlers"), { recursive: true });
    assertExit(await run(dir.path, ["check"]), 1, /handlers\.dir handlers does not exist/);
  });
  await t.step("a handler the events: filter drops → 1", async () => {
    await using dir = await tempDir();
    await workDir(dir.path, {
      files: { "handlers/stripe/charge.refunded.ts": "export default () => {};\n" },
    });
    assertExit(
      await run(dir.path, ["check"]),
      1,
      /charge\.refunded\.ts: every stripe webhook's events: filter drops charge\.refunded/,
    );
  });
  await t.step("a handler folder that matches no provider → 1", async () => {
    await using dir = await tempDir();
    await workDir(dir.path, {
      files: { "handlers/stirpe/invoice.paid.ts": "export default () => {};\n" },
    });
    assertExit(await run(dir.path, ["check"]), 1, /stirpe\/ matches no provider/);
  });
  await t.step("a database of a newer whd → 1; --json says so", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    await Deno.mkdir(join(dir.path, "data"));
    const sql = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT, " +
      "applied_at INTEGER); INSERT INTO schema_migrations VALUES (999, 'future', 0);";
    const made = await new Deno.Command("sqlite3", { args: [join(dir.path, "data/whd.db"), sql] })
      .output();
    assert.ok(made.success);
    const result = await run(dir.path, ["check", "--json"]);
    assertExit(result, 1, /schema version 999/);
    const report = JSON.parse(result.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.database.schema_version, 999);
    assert.deepEqual(report.problems.map((p: { area: string }) => p.area), ["database"]);
  });
  await t.step("a database serve created → reachable, current schema version", async () => {
    await using dir = await tempDir();
    await workDir(dir.path);
    assertExit(await run(dir.path, ["events", "list"]), 0, /\(none\)/); // opens (creates) it
    const result = await run(dir.path, ["check", "--json"]);
    assertExit(result, 0, /"reachable": true/);
    const { database } = JSON.parse(result.stdout);
    assert.equal(database.schema_version, database.latest_version);
  });
});

Deno.test("exit codes: whd handlers", async (t) => {
  await using dir = await tempDir();
  await workDir(dir.path);
  await t.step("every file loads → 0", async () => {
    assertExit(await run(dir.path, ["handlers"]), 0, /invoice\.paid/);
  });
  await t.step("unknown flag → 2", async () => {
    assertExit(await run(dir.path, ["handlers", "--bogus"]), 2, /unknown option/);
  });
  await t.step("a load error → 1", async () => {
    await Deno.writeTextFile(
      join(dir.path, "handlers/stripe/invoice.paid.ts"),
      "export default (() => {;\n",
    );
    assertExit(await run(dir.path, ["handlers"]), 1, /LOAD ERROR/);
    assertExit(await run(dir.path, ["handlers", "--json"]), 1, /"errors"/);
  });
});

Deno.test("exit codes: whd events", async (t) => {
  await using dir = await tempDir();
  await workDir(dir.path);
  await t.step("list → 0", async () => {
    assertExit(await run(dir.path, ["events", "list"]), 0, /\(none\)/);
  });
  await t.step("show an unknown id → 1", async () => {
    assertExit(await run(dir.path, ["events", "show", "evt_nope"]), 1, /evt_nope/);
  });
  await t.step("replay an unknown id → 1", async () => {
    assertExit(await run(dir.path, ["events", "replay", "evt_nope"]), 1, /evt_nope/);
  });
  await t.step("unknown flag / bad value → 2", async () => {
    assertExit(await run(dir.path, ["events", "list", "--bogus"]), 2, /unknown option/);
    assertExit(await run(dir.path, ["events", "list", "--status", "weird"]), 2, /--status/);
    assertExit(await run(dir.path, ["events", "purge", "--older-than", "soon"]), 2, /duration/);
  });
});

Deno.test("exit codes: whd endpoints and backfill", async (t) => {
  await using dir = await tempDir();
  await workDir(dir.path);
  await t.step("endpoints list without the API key → 1, naming the variable", async () => {
    assertExit(await run(dir.path, ["endpoints", "list"]), 1, new RegExp(`set ${KEY_ENV}`));
  });
  await t.step("endpoints: unknown flag → 2", async () => {
    assertExit(await run(dir.path, ["endpoints", "list", "--bogus"]), 2, /unknown option/);
  });
  await t.step("endpoints: Stripe unreachable → 1", async () => {
    assertExit(
      await run(dir.path, ["endpoints", "list"], { [KEY_ENV]: "sk_test_exit" }),
      1,
      /cannot reach the Stripe API/,
    );
  });
  await t.step("backfill without the API key → 1; bad --hours → 2", async () => {
    assertExit(await run(dir.path, ["backfill"]), 1, new RegExp(`set ${KEY_ENV}`));
    assertExit(await run(dir.path, ["backfill", "--hours", "0"]), 2, /--hours/);
  });
});
