/**
 * The whd command line program: parses argv, runs one subcommand, maps errors to exit codes.
 * Loaded by `main.ts` with a dynamic `import()`, so a handler host never loads it.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import denoConfig from "../../deno.json" with { type: "json" };
import { register as registerBackfill } from "./backfill.ts";
import { register as registerCheck } from "./check.ts";
import { register as registerEndpoints } from "./endpoints.ts";
import { register as registerEvents } from "./events.ts";
import { register as registerHandlers } from "./handlers.ts";
import { register as registerInit } from "./init.ts";
import { loadContext } from "./load_context.ts";
import { register as registerSchema } from "./schema.ts";
import { register as registerSend } from "./send.ts";
import { register as registerServe } from "./serve.ts";
import { UserError } from "../errors.ts";
import { CommandFailed } from "./exit.ts";

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
      registerInit,
      registerSchema,
    ]
  ) register(program, loadContext); // subcommands inherit exitOverride from the program
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
    if (error instanceof CommandFailed) return error.exitCode; // it printed its own report
    if (error instanceof UserError) {
      console.error(`whd: ${error.message}`);
      return error.exitCode;
    }
    console.error("whd: internal error (please report it):", error);
    return 70;
  }
}
