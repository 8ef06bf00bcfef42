/**
 * Runs one subcommand module in-process the way main.ts does: a commander program with
 * `--config`, the module's `register`, and a context whose output, logs and env are captured.
 *
 * @module
 */
import { Command } from "commander";
import { type Clock, ManualClock } from "../../src/clock.ts";
import type { Config } from "../../src/config/schema.ts";
import type { CliContext, Register } from "../../src/cli/context.ts";
import type { Inbox } from "../../src/inbox/types.ts";
import { createLogger } from "../../src/ops/log.ts";

/** What one run printed and logged, and the error it ended with (if any). */
export interface CliRun {
  out: string;
  logs: string[];
  error?: unknown;
}

/** Options for {@linkcode runCli}. */
export interface CliHarnessOptions {
  config: Config;
  env?: Record<string, string>;
  inbox?: () => Promise<Inbox>;
  isTty?: boolean;
  clock?: Clock;
}

/** Runs `args` (without the program name) through `register` and captures everything. */
export async function runCli(
  register: Register,
  args: string[],
  options: CliHarnessOptions,
): Promise<CliRun> {
  const run: CliRun = { out: "", logs: [] };
  const secrets = new Set<string>();
  const env = options.env ?? {};
  const context: CliContext = {
    config: options.config,
    log: createLogger({ level: "debug", format: "json", write: (l) => run.logs.push(l), secrets }),
    openInbox: options.inbox ?? (() => Promise.reject(new Error("no inbox in this test"))),
    env: (name) => env[name],
    out: (text) => {
      run.out += text;
    },
    isTty: options.isTty ?? false,
    clock: options.clock ?? new ManualClock(),
    secrets,
  };
  const program = new Command("whd").exitOverride().option("--config <path>");
  register(program, () => Promise.resolve(context));
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    run.error = error;
  }
  return run;
}
