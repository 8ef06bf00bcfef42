/**
 * whd: a self-hosted webhook daemon. Parses argv, runs one subcommand, maps errors to exit codes.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import denoConfig from "./deno.json" with { type: "json" };
import { register as registerBackfill } from "./src/cli/backfill.ts";
import { register as registerCheck } from "./src/cli/check.ts";
import { register as registerEndpoints } from "./src/cli/endpoints.ts";
import { register as registerEvents } from "./src/cli/events.ts";
import { register as registerHandlers } from "./src/cli/handlers.ts";
import { loadContext } from "./src/cli/load_context.ts";
import { register as registerSend } from "./src/cli/send.ts";
import { register as registerServe } from "./src/cli/serve.ts";
import { UserError } from "./src/errors.ts";

/** Builds the whd command line program. */
export function buildProgram(): Command {
  const program = new Command("whd")
    .description("Self-hosted webhook daemon: verify, store once, run your handlers.")
    .version(denoConfig.version, "-V, --version", "print the version")
    .option("-c, --config <path>", "config file (default: $WHD_CONFIG, else config/whd.yaml)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (
    const register of [
      registerServe,
      registerCheck,
      registerEvents,
      registerHandlers,
      registerSend,
      registerBackfill,
      registerEndpoints,
    ]
  ) register(program, loadContext);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs whd with `args` and returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed help, the version, or the usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UserError) {
      console.error(`whd: ${error.message}`);
      return error.exitCode;
    }
    console.error("whd: internal error (please report it):", error);
    return 70;
  }
}

if (import.meta.main) {
  // Exit explicitly: a handler worker stuck in a synchronous loop is not stopped by
  // `Worker.terminate()` (Deno 2.9), and its thread would keep the process alive after
  // `whd serve` has shut down. All output is written synchronously, so nothing is lost.
  Deno.exit(await main(Deno.args));
}
