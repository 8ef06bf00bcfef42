import assert from "node:assert/strict";
import { Command } from "commander";
import { register } from "../../src/cli/handlers.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { CommandFailed } from "../../src/cli/exit.ts";
import { ManualClock } from "../../src/clock.ts";
import type { Config } from "../../src/config/schema.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { handlersDir, testConfig } from "./_helpers.ts";

async function runCli(config: Config, args: string[]): Promise<{ out: string; exitCode: number }> {
  let out = "";
  const context = (): Promise<CliContext> =>
    Promise.resolve({
      config,
      log: memoryLogger(),
      openInbox: () => Promise.reject(new Error("not needed")),
      env: () => undefined,
      out: (t: string) => void (out += t),
      isTty: false,
      clock: new ManualClock(),
      secrets: new Set(),
    });
  const program = new Command().exitOverride().option("--config <path>");
  register(program, context);
  // The exit status of the real process is asserted in tests/cli_exit_codes_test.ts.
  try {
    await program.parseAsync(["handlers", ...args], { from: "user" });
    return { out, exitCode: 0 };
  } catch (error) {
    if (error instanceof CommandFailed) return { out, exitCode: error.exitCode };
    throw error;
  }
}

Deno.test("whd handlers: lists files per provider, configured types, and load errors (exit 1)", async () => {
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": "export default () => {};",
    "stripe/customer.subscription.*.ts": "export default () => {};",
    "stripe/broken.ts": `import x from "left-pad";\nexport default x;`,
    "github/push.sh": { text: "#!/bin/sh\n", mode: 0o755 },
  });
  const base = testConfig(dir);
  const config: Config = {
    ...base,
    server: {} as Config["server"],
    database: {} as Config["database"],
    log: { level: "info", format: "text" },
    source: "test",
    providers: base.providers.map((p) =>
      p.name === "stripe"
        ? {
          ...p,
          webhooks: [
            {
              events: ["invoice.paid", "customer.subscription.deleted", "charge.refunded"],
            } as Config["providers"][number]["webhooks"][number],
          ],
        }
        : p
    ),
  };
  const text = await runCli(config, []);
  assert.equal(text.exitCode, 1);
  assert.match(text.out, /^github\n\s+push\s+\S+github\/push\.sh\s+\[executable\]$/m);
  assert.match(text.out, /customer\.subscription\.deleted → \S+customer\.subscription\.\*\.ts/);
  assert.match(text.out, /charge\.refunded → unhandled/);
  assert.match(text.out, /broken\.ts: \S*broken\.ts imports "left-pad"/);

  const json = JSON.parse((await runCli(config, ["--json"])).out);
  const stripe = json.providers.find((p: { name: string }) => p.name === "stripe");
  assert.deepEqual(
    stripe.files.map((f: { covers: string; error?: string }) => [f.covers, !!f.error]),
    [["broken", true], ["customer.subscription.*", false], ["invoice.paid", false]],
  );
  assert.equal(json.errors.length, 1);
});

Deno.test("whd handlers: exit code 0 when everything loads", async () => {
  const dir = await handlersDir({ "github/push.ts": "export default () => {};" });
  const config = { ...testConfig(dir), source: "test" } as Config;
  const result = await runCli(config, []);
  assert.equal(result.exitCode, 0);
  assert.match(result.out, /stripe\n\s+\(no handlers: events are marked unhandled\)/);
});
