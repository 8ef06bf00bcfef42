/**
 * `whd serve`: serve the webhook routes and run the handlers until SIGTERM or SIGINT.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { resolveSecrets, secretsFor } from "../config/loader.ts";
import { createDispatcher } from "../dispatch/dispatcher.ts";
import { createRequestHandler } from "../http/server.ts";
import { listen, type Listener, type ListenerLimits } from "../http/listener.ts";
import { type NofileLimit, raiseNofileLimit } from "../net/nofile_limit.ts";
import { errorMessage, UserError } from "../errors.ts";
import { Metrics } from "../ops/metrics.ts";
import { TypeLabels } from "../ops/type_labels.ts";
import type { Logger } from "../ops/log.ts";
import type { Config } from "../config/schema.ts";
import { watchBacklog } from "../ops/backlog_gauges.ts";
import { observeDeliveries } from "../ops/delivery_metrics.ts";
import { reconcilePlans, startReconcile } from "../jobs/reconcile.ts";
import { stripeClientFor } from "./stripe_target.ts";
import { type AdminListener, startAdmin } from "../ops/admin.ts";
import { type Console, createConsole } from "../console/console_routes.ts";
import { handlerTable } from "../console/console_handlers.ts";
import type { Inbox } from "../inbox/types.ts";
import { withTimers } from "../clock.ts";
import { HandlerState, readiness, type StoreHealth } from "../ops/health.ts";
import { type AdminAddress, adminSettings } from "../config/admin_listen.ts";
import type { CliContext, Register } from "./context.ts";
import { httpOrigin, parseInteger } from "./format.ts";
import {
  coalescedWaker,
  parseWorkerRole,
  readSupervisor,
  runsHandlers,
  superviseWorkers,
} from "./serve_workers.ts";

/** Options of `whd serve`. */
export interface ServeOptions {
  port?: string;
  host?: string;
  /** False with `--no-handlers`: only ingest. */
  handlers?: boolean;
  /** `--workers N`: serving processes sharing the port and the database (default 1). */
  workers?: string;
  /** Internal `--worker i/n`: this process is worker i of a `--workers n` supervisor. */
  worker?: string;
  /** The global `--config` path, passed on to workers. */
  config?: string;
}

/** Registers `whd serve`. */
export const register: Register = (program, context) => {
  program.command("serve")
    .description("serve the webhook routes and run the handlers (the daemon)")
    .option("--host <host>", "address to listen on (default: server.host)")
    .option("--port <port>", "port to listen on (default: $WHD_PORT, else server.port)")
    .option("--no-handlers", "only verify and store events; do not run handlers")
    .option(
      "--workers <n>",
      "serving processes sharing the port (SO_REUSEPORT) and the database (default 1)",
    )
    .addOption(new Option("--worker <i/n>", "internal: worker i of --workers n").hideHelp())
    .action(async (options: ServeOptions, command: Command) => {
      const globals = command.optsWithGlobals();
      await serve(await context(globals), { ...options, config: globals.config });
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

/** Starts the admin listener (unless off) with the console; a port it cannot bind is a user error. */
function _startAdminListener(
  settings: { address: AdminAddress; token?: string },
  deps: {
    metrics: Metrics;
    store: () => StoreHealth;
    handlers: HandlerState;
    console: Omit<Parameters<typeof createConsole>[0], "token">;
  },
  log: CliContext["log"],
): AdminListener {
  let console: Console | undefined;
  try {
    console = createConsole({ ...deps.console, token: settings.token });
    return startAdmin(settings.address, {
      token: settings.token,
      metrics: () => deps.metrics.render(),
      readiness: () => readiness({ store: deps.store, handlers: deps.handlers }),
      console,
    }, log);
  } catch (error) {
    console?.close();
    const where = `${settings.address.hostname}:${settings.address.port}`;
    const fix = error instanceof Deno.errors.AddrInUse
      ? "the port is in use; choose another with admin.listen, or admin.listen: off"
      : "check admin.listen, or set admin.listen: off";
    throw new UserError(`cannot listen on ${where} (admin): ${errorMessage(error)}; ${fix}`);
  }
}

/**
 * Starts the admin listener with `start`, and again when it was handed the webhook `port`: an
 * admin listener asked for any free port (`admin.listen: 127.0.0.1:0`) is bound before the
 * webhook port, and with `--workers` the supervisor has only probed that port, so the system may
 * give it to the admin listener, and the worker could then not listen. The second listener is
 * bound before the first is closed, so it cannot be handed the same port again; the first is
 * closed whether or not the second could start.
 */
export async function startAdminAwayFrom(
  port: number,
  start: () => AdminListener,
): Promise<AdminListener> {
  const admin = start();
  if (port === 0 || admin.port !== port) return admin;
  try {
    return start();
  } finally {
    await admin.shutdown();
  }
}

/** Descriptors kept for the database, handler pipes and logs when capping connections. */
const _RESERVED_FDS = 128;

/**
 * The listener's limits from `server:`, with `max_connections` capped below the open-files
 * limit (logged, with the limit, once).
 */
export function listenerLimits(config: Config, nofile: NofileLimit, log: Logger): ListenerLimits {
  const { server } = config;
  const byFds = Number.isFinite(nofile.soft) ? Math.max(16, nofile.soft - _RESERVED_FDS) : Infinity;
  const maxConnections = Math.min(server.max_connections, byFds);
  log.info("open files limit", {
    soft: Number.isFinite(nofile.soft) ? nofile.soft : "unknown",
    hard: Number.isFinite(nofile.hard) ? nofile.hard : "unknown",
    ...(nofile.raisedFrom !== undefined ? { raised_from: nofile.raisedFrom } : {}),
    ...(nofile.error ? { not_raised: nofile.error } : {}),
    max_connections: maxConnections,
  });
  return {
    headerTimeoutMs: server.header_timeout_ms,
    bodyTimeoutMs: server.body_timeout_ms,
    idleTimeoutMs: server.idle_timeout_ms,
    maxConnections,
    maxHeaderBytes: server.max_header_bytes,
  };
}

/** Runs the daemon until a termination signal, then shuts down gracefully. */
export async function serve(ctx: CliContext, options: ServeOptions = {}): Promise<void> {
  const { config, clock } = ctx;
  const port = options.port !== undefined
    ? parseInteger(options.port, "--port", 0, 65535)
    : config.server.port;
  const hostname = options.host ?? config.server.host;
  const workers = options.workers !== undefined
    ? parseInteger(options.workers, "--workers", 1, 64)
    : 1;
  const role = options.worker !== undefined ? parseWorkerRole(options.worker) : undefined;
  const log = role ? ctx.log.child({ worker: role.index }) : ctx.log;
  const resolved = resolveSecrets(config, ctx.env, { secrets: ctx.secrets });
  // With --workers N, worker 1 serves the admin listener (one port, one set of answers).
  const adminConfig = adminSettings(config, ctx.env);
  if (adminConfig?.token !== undefined) ctx.secrets.add(adminConfig.token);
  if (workers > 1 && !role) {
    return await superviseServe(ctx, options, { hostname, port, workers });
  }
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

  const plans = reconcilePlans(config);
  const stripeClients = new Map(plans.map((p) => [p.provider, stripeClientFor(ctx, p.provider)]));
  const inbox = await ctx.openInbox();
  const metrics = new Metrics({ types: TypeLabels.fromConfig(config) });
  void watchBacklog({ inbox, metrics, clock, log }).refresh();
  const dispatcher = options.handlers === false || (role && !runsHandlers(role.index, config))
    ? null
    : createDispatcher({ config, inbox, log, metrics, clock });
  // A worker without handlers wakes worker 1's through the supervisor (see serve_workers.ts).
  const wakeSupervisor = role && !dispatcher && options.handlers !== false
    ? coalescedWaker(() => Deno.stdout.write(new Uint8Array([10])))
    : undefined;
  const handler = createRequestHandler({
    config,
    secretsFor: (webhook) => secretsFor(resolved, webhook),
    inbox,
    log,
    metrics,
    clock,
    onAccepted: dispatcher ? () => dispatcher.accepted() : wakeSupervisor,
    runSync: dispatcher ? (key) => dispatcher.runNow(key) : undefined,
  });

  // Signals are taken before any port opens: a SIGTERM that arrives while whd starts (right
  // after "listening", say) stops it gracefully once it has started, instead of killing it.
  // A second signal while stopping resolves the same promise again: it is ignored.
  const { promise: received, resolve } = Promise.withResolvers<Deno.Signal>();
  let stopping = false;
  const listeners = (["SIGTERM", "SIGINT"] as const).map((signal) => ({
    signal,
    listener: () => resolve(signal),
  }));
  for (const { signal, listener } of listeners) Deno.addSignalListener(signal, listener);
  const releaseSignals = () => {
    for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
  };

  // Before the public port: /readyz answers "handlers not loaded yet" while they load.
  const handlerState = new HandlerState();
  if (!dispatcher) handlerState.off();
  let admin: AdminListener | undefined;
  if (adminConfig && (!role || role.index === 1)) {
    try {
      admin = await startAdminAwayFrom(port, () =>
        _startAdminListener(adminConfig, {
          metrics,
          handlers: handlerState,
          store: () =>
            "health" in inbox ? (inbox.health as () => StoreHealth)() : { available: true },
          console: {
            inbox: inbox as Inbox,
            handlers: () => handlerTable(config, dispatcher ? dispatcher.registry : null),
            scrub: (text) => log.scrub(text),
            clock: withTimers(clock),
            log: log.child({ component: "console" }),
            wake: dispatcher ? () => dispatcher.notify() : wakeSupervisor,
            // A run is recorded when it ends: within its timeout and the lease margin (≤ 10 s).
            settleMs: config.handlers.timeout_ms + 60_000,
          },
        }, log));
    } catch (error) {
      releaseSignals();
      await dispatcher?.stop(0);
      inbox.close();
      throw error;
    }
  }

  let server: Listener;
  try {
    server = listen({
      hostname,
      port,
      reusePort: role !== undefined,
      limits: listenerLimits(config, raiseNofileLimit(), log),
      log,
      clock,
      onListen: ({ hostname, port }) => {
        log.info("listening", {
          url: httpOrigin(hostname, port),
          port,
          routes: webhooks.map((w) => w.path).join(","),
          config: config.source,
        });
      },
      onError: (error) => {
        log.error("internal error answering a request", {
          error: error instanceof Error ? error.stack ?? error.message : String(error),
        });
        return new Response('{"error":"internal_error"}', {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    }, observeDeliveries(handler, { config, metrics }));
  } catch (error) {
    releaseSignals();
    await admin?.shutdown();
    await dispatcher?.stop(0);
    inbox.close();
    throw listenError(error, hostname, port);
  }
  // Handlers load (bundle) after the port is open: deliveries are stored meanwhile, and runs
  // (sync ones too) wait for the registry.
  const starting = dispatcher?.start().then(() => handlerState.loaded(), (error) => {
    handlerState.failed(errorMessage(error));
    log.error("dispatcher failed to start", { error: errorMessage(error) });
  });
  // Scheduled reconciliation (reconcile: in the config): in worker 1 only under --workers.
  const reconciler = plans.length > 0 && (!role || role.index === 1)
    ? startReconcile({
      plans,
      clientFor: (provider) => stripeClients.get(provider)!,
      inbox,
      owner: `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      log: log.child({ component: "reconcile" }),
      metrics,
      clock,
      onAccepted: dispatcher ? () => dispatcher.notify() : undefined,
    })
    : undefined;

  // A worker stops when its stdin ends (the supervisor is gone) and wakes on each byte.
  const supervisor = role
    ? readSupervisor(Deno.stdin.readable, () => dispatcher?.notify(), () => {
      if (!stopping) log.warn("the supervising whd process is gone; stopping");
      resolve("SIGTERM");
    })
    : undefined;
  const signal = await received;
  stopping = true;

  log.info("shutting down", { signal, grace_ms: config.handlers.shutdown_grace_ms });
  await server.shutdown();
  await admin?.shutdown();
  await reconciler?.stop(config.handlers.shutdown_grace_ms);
  await starting;
  await dispatcher?.stop(config.handlers.shutdown_grace_ms);
  inbox.close();
  // A worker keeps its listeners (they do not keep the process alive): with Ctrl-C the
  // terminal and the supervisor both send SIGINT, and a late one must not kill it.
  if (!role) releaseSignals();
  await supervisor?.stop();
  log.info("stopped");
}

/**
 * `--workers N` (N > 1): checks what every worker would check first (the config and secrets
 * already are; the database is opened and migrated once here; the port is probed, and picked
 * when it is 0), then runs the workers until a signal or a failure.
 */
async function superviseServe(
  ctx: CliContext,
  options: ServeOptions,
  { hostname, port, workers }: { hostname: string; port: number; workers: number },
): Promise<void> {
  const { config, log } = ctx;
  (await ctx.openInbox()).close();
  try {
    // Without SO_REUSEPORT: a port held by anything else (another whd's workers included)
    // fails here with the usual message instead of being shared.
    using probe = Deno.listen({ hostname, port });
    port = probe.addr.port;
  } catch (error) {
    throw listenError(error, hostname, port);
  }
  const handlerWorkers = new Set<number>();
  if (options.handlers !== false) {
    for (let i = 1; i <= workers; i++) if (runsHandlers(i, config)) handlerWorkers.add(i);
  }
  log.info("starting workers", { workers, port, handlers: [...handlerWorkers].join(",") });
  const code = await superviseWorkers({
    count: workers,
    handlerWorkers,
    log,
    args: (i) => [
      ...(options.config !== undefined ? ["--config", options.config] : []),
      "serve",
      "--host",
      hostname,
      "--port",
      String(port),
      ...(options.handlers === false ? ["--no-handlers"] : []),
      "--worker",
      `${i}/${workers}`,
    ],
  });
  if (code !== 0) {
    throw new UserError(`a worker failed (exit code ${code}); see its log lines above`, {
      exitCode: code,
    });
  }
  log.info("stopped");
}
