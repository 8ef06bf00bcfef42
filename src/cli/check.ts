/**
 * `whd check`: validate the config (and the secrets it names) and print the route table,
 * without starting anything.
 *
 * @module
 */
import type { Command } from "commander";
import { resolveSecrets } from "../config/loader.ts";
import { checkHandlers } from "../dispatch/registry.ts";
import { describeRoutes } from "../http/routes.ts";
import type { CliContext, Register } from "./context.ts";
import { jsonText, table } from "./format.ts";

/** Registers `whd check`. */
export const register: Register = (program, context) => {
  program.command("check")
    .description("validate the config and print the route table without starting the server")
    .option("--json", "print the route table as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const ok = await check(await context(command.optsWithGlobals()), options);
      if (!ok) Deno.exitCode = 1;
    });
};

/**
 * Validates the config and its secrets (a problem throws a ConfigError, exit 2), prints the
 * route table, and loads every handler file; resolves false when one fails to load.
 */
export async function check(ctx: CliContext, options: { json?: boolean } = {}): Promise<boolean> {
  resolveSecrets(ctx.config, ctx.env, { secrets: ctx.secrets });
  const routes = describeRoutes(ctx.config);
  const handlerErrors = await checkHandlers(ctx.config.handlers.dir);
  if (options.json) {
    const report = { config: ctx.config.source, routes, handler_errors: handlerErrors };
    ctx.out(jsonText(report));
  } else {
    ctx.out(`config ${ctx.config.source}: OK\n\n`);
    ctx.out(table(routes as unknown as Record<string, unknown>[]));
    if (handlerErrors.length === 0) {
      ctx.out(`\nhandlers in ${ctx.config.handlers.dir}: all load\n`);
    } else {
      ctx.out(`\nhandlers that fail to load (their events wait until fixed):\n`);
      for (const error of handlerErrors) ctx.out(`  ${error.path}: ${error.message}\n`);
    }
  }
  return handlerErrors.length === 0;
}
