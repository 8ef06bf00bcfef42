/**
 * `whd handlers [--json]`: per provider, each handler file, the event types it covers, and
 * load errors. Exits 1 when any handler fails to load.
 *
 * `whd handlers run <provider> <type> [--data FILE]`: runs the handler that would handle such
 * an event once, on a realistic sample (the `whd send` fixtures) or the body in FILE; prints
 * its output, its reply and its outcome; stores nothing. Exits 0 when it succeeded, 1 when not.
 *
 * `whd handlers vendor`: installs the npm packages the handlers import into
 * `<handlers.dir>/node_modules` (deploy time; see `dispatch/vendor.ts`).
 *
 * @example
 * ```sh
 * whd handlers
 * whd handlers --json | jq '.errors'
 * whd handlers vendor
 * whd handlers run stripe invoice.paid
 * ```
 * @module
 */
import type { Config } from "../config/schema.ts";
import { displayPath, type HandlerKind } from "../dispatch/discovery.ts";
import { type HandlerRegistry, loadRegistry } from "../dispatch/registry.ts";
import type { Register } from "./context.ts";
import { CommandFailed } from "./exit.ts";
import { jsonText } from "./format.ts";
import { errorMessage, UserError } from "../errors.ts";
import { tryHandler } from "../dispatch/try_run.ts";
import { vendorHandlers } from "../dispatch/vendor.ts";
import { pickProvider, pickWebhook } from "./target.ts";

/** One handler file in the report. */
export interface HandlerReportFile {
  file: string;
  kind: HandlerKind;
  /** Exact type, `*` pattern, or `_default` (every type no other file handles). */
  covers: string;
  /** Middleware files run around it, outermost first (module handlers that have any). */
  middleware?: string[];
  error?: string;
}

/** One provider in the report. */
export interface HandlerReportProvider {
  name: string;
  /** False when `handlers/<name>` exists but no such provider is configured. */
  configured: boolean;
  files: HandlerReportFile[];
  /** Types listed in the provider's webhooks' `events:` filters → the file that handles them (null: unhandled). */
  types: Record<string, string | null>;
}

/** What `whd handlers --json` prints. */
export interface HandlerReport {
  dir: string;
  exists: boolean;
  providers: HandlerReportProvider[];
  errors: { file: string; message: string }[];
}

/** Builds the report from the config and a loaded registry. */
export function handlerReport(
  config: Pick<Config, "providers">,
  registry: HandlerRegistry,
): HandlerReport {
  const names = new Set([
    ...config.providers.map((p) => p.name),
    ...registry.handlers.map((h) => h.provider),
  ]);
  const providers = [...names].sort().map((name): HandlerReportProvider => {
    const provider = config.providers.find((p) => p.name === name);
    const types: Record<string, string | null> = {};
    for (const webhook of provider?.webhooks ?? []) {
      for (const type of webhook.events ?? []) {
        const handler = registry.resolve(name, type);
        types[type] = handler ? displayPath(handler.path) : null;
      }
    }
    return {
      name,
      configured: provider !== undefined,
      files: registry.handlers.filter((h) => h.provider === name).map((h) => ({
        file: displayPath(h.path),
        kind: h.kind,
        covers: h.pattern,
        ...(h.middleware ? { middleware: h.middleware.map(displayPath) } : {}),
        ...(h.error ? { error: h.error } : {}),
      })),
      types,
    };
  });
  return {
    dir: registry.dir,
    exists: registry.exists,
    providers,
    errors: registry.errors.map((e) => ({ file: displayPath(e.path), message: e.message })),
  };
}

/** Renders the report as text. */
export function formatHandlerReport(report: HandlerReport): string {
  const out: string[] = [];
  if (!report.exists) {
    out.push(`handlers directory ${report.dir} does not exist: every event will be unhandled`);
  }
  for (const p of report.providers) {
    out.push(`${p.name}${p.configured ? "" : "  (not a configured provider: never used)"}`);
    if (p.files.length === 0) out.push("  (no handlers: events are marked unhandled)");
    const width = Math.max(0, ...p.files.map((f) => f.covers.length)) + 2;
    for (const f of p.files) {
      const covers = f.covers === "_default" ? "(any other type)" : f.covers;
      const kind = f.kind === "exec" ? "  [executable]" : "";
      out.push(
        `  ${covers.padEnd(Math.max(width, 18))}${f.file}${kind}${f.error ? "  LOAD ERROR" : ""}`,
      );
    }
    const wrapped = p.files.find((f) => f.middleware)?.middleware;
    if (wrapped) out.push(`  middleware: ${wrapped.join(" → ")}`);
    const types = Object.entries(p.types);
    if (types.length > 0) {
      out.push("  configured event types:");
      for (const [type, file] of types) out.push(`    ${type} → ${file ?? "unhandled"}`);
    }
  }
  if (report.errors.length > 0) {
    out.push("", "load errors (their events wait until fixed):");
    for (const e of report.errors) out.push(`  ${e.file}: ${e.message}`);
  }
  return out.join("\n") + "\n";
}

/** Registers `whd handlers` and `whd handlers run`. */
export const register: Register = (program, context) => {
  const handlers = program
    .command("handlers")
    .description("list handler files, the event types each covers, and load errors")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }, command) => {
      const ctx = await context(command.optsWithGlobals());
      const registry = await loadRegistry(ctx.config.handlers.dir);
      const report = handlerReport(ctx.config, registry);
      ctx.out(options.json ? jsonText(report) : formatHandlerReport(report));
      if (report.errors.length > 0) throw new CommandFailed(1);
    });

  handlers.command("run")
    .description("run the handler for one sample event once (nothing is stored)")
    .argument("<provider>", "provider name (under providers: in whd.yaml)")
    .argument("<type>", "event type, e.g. invoice.paid")
    .option("--data <file>", "the delivery body to use (default: a realistic sample)")
    .option("--webhook <name>", "which webhook of the provider (default: the first)")
    .action(async (provider: string, type: string, options, command) => {
      const ctx = await context(command.optsWithGlobals());
      const chosen = pickProvider(ctx.config, provider);
      // The webhook only names the event's webhook and signing scheme: the first will do.
      const webhook = options.webhook === undefined
        ? chosen.webhooks[0]
        : pickWebhook(chosen, options.webhook);
      let body: string | undefined;
      if (options.data !== undefined) {
        try {
          body = await Deno.readTextFile(options.data);
        } catch (error) {
          throw new UserError(`--data ${options.data}: ${errorMessage(error)}`, { exitCode: 2 });
        }
      }
      const env = Deno.env.toObject();
      const result = await tryHandler({
        config: ctx.config,
        webhook,
        type,
        body,
        env,
        now: ctx.clock.now(),
        print: (line) => ctx.out(`  ${line}\n`),
        scrub: (text) => ctx.log.scrub(text),
      });
      ctx.out(
        `ran ${result.handler} for ${result.event.provider} ${result.event.type} ` +
          `(id ${result.event.id})\n`,
      );
      if (result.reply) {
        const text = await result.reply.text();
        ctx.out(`reply: ${result.reply.status} ${text.slice(0, 2000)}\n`);
      }
      ctx.out(
        `outcome: ${result.outcome} in ${result.ms} ms${result.error ? `: ${result.error}` : ""}\n`,
      );
      if (result.outcome !== "ok") throw new CommandFailed(1);
    });

  handlers.command("vendor")
    .description("install the npm packages the handlers import into <handlers.dir>/node_modules")
    .action(async (_options, command) => {
      const ctx = await context(command.optsWithGlobals());
      const dir = ctx.config.handlers.dir;
      const { code } = await vendorHandlers({ dir, print: (line) => ctx.out(`${line}\n`) });
      if (code !== 0) {
        ctx.out(`deno install failed (exit ${code}): see its output above\n`);
        throw new CommandFailed(1);
      }
      ctx.out(`packages installed in ${dir}/node_modules; whd loads them from there\n`);
    });
};
