/**
 * `whd serve`: serve the webhook routes and run the handlers until SIGTERM or SIGINT.
 *
 * @module
 */
import type { Command } from "commander";
import { resolveSecrets, secretsFor } from "../config/loader.ts";
import { createDispatcher } from "../dispatch/dispatcher.ts";
import { createRequestHandler } from "../http/server.ts";
import { ClientGoneError } from "../http/body.ts";
import { errorMessage, UserError } from "../errors.ts";
import { Metrics } from "../ops/metrics.ts";
import type { CliContext, Register } from "./context.ts";
import { httpOrigin, parseInteger } from "./format.ts";

/** Options of `whd serve`. */
export interface ServeOptions {
  port?: string;
  host?: string;
  /** False with `--no-handlers`: only ingest. */
  handlers?: boolean;
}

/** Registers `whd serve`. */
export const register: Register = (program, context) => {
  program.command("serve")
    .description("serve the webhook routes and run the handlers (the daemon)")
    .option("--host <host>", "address to listen on (default: server.host)")
    .option("--port <port>", "port to listen on (default: $WHD_PORT, else server.port)")
    .option("--no-handlers", "only verify and store events; do not run handlers")
    .action(async (options: ServeOptions, command: Command) => {
      await serve(await context(command.optsWithGlobals()), options);
    });
};

/** Turns a failure to listen into a message that says how to fix it (other errors pass through). */
export function listenError(error: unknown, hostname: string, port: number): unknown {
  const where = `cannot listen on ${hostname}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new UserError(
      `${where}: the port is in use (another whd?); stop that process or choose another port with server.port, WHD_PORT or --port`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new UserError(
      `${where}: permission denied; ports below 1024 need privileges — use a higher port behind a reverse proxy`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new UserError(`${where}: no such address on this machine; check server.host or --host`);
  }
  return error;
}

/** Runs the daemon until a termination signal, then shuts down gracefully. */
export async function serve(ctx: CliContext, options: ServeOptions = {}): Promise<void> {
  const { config, log, clock } = ctx;
  const port = options.port !== undefined
    ? parseInteger(options.port, "--port", 0, 65535)
    : config.server.port;
  const hostname = options.host ?? config.server.host;
  const resolved = resolveSecrets(config, ctx.env, { secrets: ctx.secrets });
  if (config.source.startsWith("embedded")) {
    log.warn("serving the embedded example config (demo only)", { source: config.source });
  }
  const webhooks = config.providers.flatMap((p) => p.webhooks);
  for (const webhook of webhooks.filter((w) => !w.verify_signature)) {
    log.warn("signature verification is OFF for this webhook (allow_unverified)", {
      provider: webhook.provider,
      webhook: webhook.name,
      path: webhook.path,
    });
  }

  const inbox = await ctx.openInbox();
  const metrics = new Metrics();
  const dispatcher = options.handlers === false
    ? null
    : createDispatcher({ config, inbox, log, metrics, clock });
  const handler = createRequestHandler({
    config,
    secretsFor: (webhook) => secretsFor(resolved, webhook),
    inbox,
    log,
    metrics,
    clock,
    onAccepted: dispatcher ? () => dispatcher.notify() : undefined,
    runSync: dispatcher ? (key) => dispatcher.runNow(key) : undefined,
  });

  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname,
      port,
      onListen: ({ hostname, port }) => {
        log.info("listening", {
          url: httpOrigin(hostname, port),
          port,
          routes: webhooks.map((w) => w.path).join(","),
          config: config.source,
        });
      },
      onError: (error) => {
        if (error instanceof ClientGoneError) {
          log.debug("client disconnected mid-request", { error: errorMessage(error.cause) });
          return new Response(null, { status: 400 });
        }
        log.error("internal error answering a request", {
          error: error instanceof Error ? error.stack ?? error.message : String(error),
        });
        return new Response('{"error":"internal_error"}', {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    }, handler);
  } catch (error) {
    await dispatcher?.stop(0);
    inbox.close();
    throw listenError(error, hostname, port);
  }
  // Handlers load (bundle) after the port is open: deliveries are stored meanwhile, and runs
  // (sync ones too) wait for the registry.
  const starting = dispatcher?.start().catch((error) =>
    log.error("dispatcher failed to start", { error: errorMessage(error) })
  );

  // A second signal while stopping resolves the same promise again: it is ignored.
  const { promise: received, resolve } = Promise.withResolvers<Deno.Signal>();
  const listeners = (["SIGTERM", "SIGINT"] as const).map((signal) => ({
    signal,
    listener: () => resolve(signal),
  }));
  for (const { signal, listener } of listeners) Deno.addSignalListener(signal, listener);
  const signal = await received;

  log.info("shutting down", { signal, grace_ms: config.handlers.shutdown_grace_ms });
  await server.shutdown();
  await starting;
  await dispatcher?.stop(config.handlers.shutdown_grace_ms);
  inbox.close();
  for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
  log.info("stopped");
}
