/**
 * `whd check`: everything `whd serve` needs, checked without starting anything — the config,
 * the secrets it names, the handlers directory and its files (load errors, files no delivery can
 * reach), and the database (reachable, schema version). Prints the route table and every
 * problem; exit 0 when serve would run as configured, 1 on any problem, 2 when the config
 * itself is invalid.
 *
 * @example
 * ```sh
 * whd check
 * whd check --json | jq '.problems'
 * ```
 * @module
 */
import type { Command } from "commander";
import { type ResolvedSecrets, resolveSecrets, secretsFor } from "../config/loader.ts";
import { displayPath } from "../dispatch/discovery.ts";
import { loadRegistry } from "../dispatch/registry.ts";
import { ConfigError, errorMessage, UserError } from "../errors.ts";
import { describeRoutes } from "../http/routes.ts";
import { adminSettings } from "../config/admin_listen.ts";
import { PROVIDERS } from "../providers/mod.ts";
import { type DatabaseReport, probeDatabase } from "./check_database.ts";
import { unreachableHandlers } from "./check_handlers.ts";
import type { CliContext, Register } from "./context.ts";
import { CommandFailed } from "./exit.ts";
import { jsonText, table } from "./format.ts";

/** One thing serve would trip over. */
export interface CheckProblem {
  /** `secrets`, `handlers` or `database`. */
  area: "secrets" | "handlers" | "database" | "admin";
  message: string;
}

/** What `whd check --json` prints. */
export interface CheckReport {
  config: string;
  ok: boolean;
  routes: ReturnType<typeof describeRoutes>;
  handlers: { dir: string; exists: boolean; files: number };
  database: DatabaseReport;
  /** The admin listener: its address (`off`) and whether requests need a token. */
  admin: { listen: string; token: boolean };
  problems: CheckProblem[];
}

/** Registers `whd check`. */
export const register: Register = (program, context) => {
  program.command("check")
    .description(
      "check everything serve needs (config, secrets, handlers, database) without starting it",
    )
    .option("--json", "print the report as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      const report = await check(ctx);
      ctx.out(options.json ? jsonText(report) : formatCheckReport(report));
      if (!report.ok) throw new CommandFailed(1);
    });
};

/** Runs every check on a loaded (valid) config; never throws for a problem it can name. */
export async function check(ctx: CliContext): Promise<CheckReport> {
  const { config } = ctx;
  const problems: CheckProblem[] = [];
  let resolved: ResolvedSecrets | undefined;
  try {
    resolved = resolveSecrets(config, ctx.env, { secrets: ctx.secrets });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const message of error.problems) problems.push({ area: "secrets", message });
  }
  if (resolved) {
    for (const webhook of config.providers.flatMap((p) => p.webhooks)) {
      try {
        PROVIDERS[webhook.type].createVerifier(webhook, secretsFor(resolved, webhook));
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        problems.push({ area: "secrets", message: error.message });
      }
    }
  }

  const registry = await loadRegistry(config.handlers.dir);
  if (!registry.exists) {
    problems.push({
      area: "handlers",
      message: `handlers.dir ${config.handlers.dir} does not exist: every event would be ` +
        "unhandled; create it (handlers/<provider>/<type>.ts) or fix handlers.dir",
    });
  }
  for (const e of registry.errors) {
    problems.push({ area: "handlers", message: `${displayPath(e.path)}: ${e.message}` });
  }
  for (const u of unreachableHandlers(config, registry.handlers)) {
    problems.push({ area: "handlers", message: `${u.file}: ${u.message}` });
  }

  let database: DatabaseReport;
  const tokenMissing = config.database.auth_token_env !== undefined &&
    resolved?.databaseAuthToken === undefined;
  if (tokenMissing) {
    database = {
      url: config.database.url.replace(/\?.*$/, ""),
      reachable: false,
      schema_version: null,
      latest_version: 0,
      note: `not tried: ${config.database.auth_token_env} is not set`,
    };
  } else {
    try {
      database = await probeDatabase({
        url: config.database.url,
        authToken: resolved?.databaseAuthToken,
      });
    } catch (error) {
      database = {
        url: config.database.url.replace(/\?.*$/, ""),
        reachable: false,
        schema_version: null,
        latest_version: 0,
        note: "unreachable",
        problem: `cannot read the inbox database: ${errorMessage(error)}`,
      };
    }
  }
  if (database.problem) problems.push({ area: "database", message: database.problem });

  let admin: CheckReport["admin"];
  try {
    const settings = adminSettings(config, ctx.env);
    admin = settings === null ? { listen: "off", token: false } : {
      listen: `${
        settings.address.hostname.includes(":")
          ? `[${settings.address.hostname}]`
          : settings.address.hostname
      }:${settings.address.port}`,
      token: settings.token !== undefined,
    };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    admin = { listen: config.admin?.listen ?? "", token: false };
    problems.push({ area: "admin", message: error.message });
  }

  return {
    config: config.source,
    ok: problems.length === 0,
    routes: describeRoutes(config),
    handlers: {
      dir: config.handlers.dir,
      exists: registry.exists,
      files: registry.handlers.length,
    },
    database,
    admin,
    problems,
  };
}

/** Renders the report as text: the route table, then a line per area, then the problems. */
export function formatCheckReport(report: CheckReport): string {
  const out: string[] = [`config ${report.config}: valid`, ""];
  out.push(table(report.routes as unknown as Record<string, unknown>[]).trimEnd(), "");
  const count = (area: CheckProblem["area"]) => report.problems.filter((p) => p.area === area);
  const secrets = count("secrets");
  out.push(`secrets: ${secrets.length === 0 ? "all set" : `${secrets.length} problem(s)`}`);
  const handlers = count("handlers");
  out.push(
    `handlers in ${report.handlers.dir}: ` +
      (handlers.length === 0
        ? `${report.handlers.files} file(s), all load and can run`
        : `${handlers.length} problem(s)`),
  );
  out.push(`database ${report.database.url}: ${report.database.note}`);
  out.push(
    report.admin.listen === "off"
      ? "admin listener: off"
      : `admin listener: http://${report.admin.listen} (console at /, /healthz, /readyz, /metrics), ` +
        (report.admin.token ? "bearer token required" : "loopback, no token"),
  );
  if (report.problems.length > 0) {
    out.push("", `${report.problems.length} problem(s) serve would have:`);
    for (const p of report.problems) out.push(`  - ${p.area}: ${p.message}`);
    if (secrets.length > 0) {
      out.push(
        "",
        "whd reads secrets from the environment: export them, or load an env file with " +
          "`deno run -A --env-file=FILE main.ts check` (systemd: EnvironmentFile=). For the " +
          "example config and its demo secrets: deno task check:demo",
      );
    }
  } else {
    out.push("", "OK: whd serve would start with this config");
  }
  return out.join("\n") + "\n";
}
