/**
 * The systems under test, each started as its own process on a fresh loopback port: the bare
 * `Deno.serve` baseline, the design floor (`_floor_server.ts`: the least work whd's design does
 * per delivery), `whd serve` as users run it (config file, handlers dir, durable libSQL file),
 * `whd serve --no-handlers`, and adnanh/webhook with an HMAC rule running `/bin/true`.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, type Proc, type Procs, waitForPort } from "./_procs.ts";
import { PATH } from "./_requests.ts";

/** The repository root. */
export const REPO = new URL("../", import.meta.url).pathname;

/** The env var whd reads the Stripe signing secret from in the bench config. */
export const SECRET_ENV = "BENCH_STRIPE_SECRET";

/** A started system. */
export interface Running {
  proc: Proc;
  port: number;
  /** Milliseconds from spawn until a TCP connect succeeded. */
  listenMs: number;
}

/** Names of the load systems, in table order. */
export const SYSTEMS = ["bare", "floor", "whd", "whd-no-handlers", "webhook"] as const;
/** One of {@linkcode SYSTEMS}. */
export type SystemName = typeof SYSTEMS[number];

/** How each system is shown in the tables. */
export const LABELS: Record<SystemName, string> = {
  bare: "bare `Deno.serve` (reads body, 200)",
  floor: "design floor (`Deno.serve`, HMAC, `JSON.parse`, grouped durable INSERT; nothing else)",
  whd: "`whd serve` (handlers dir, trivial TS handler, dispatcher on)",
  "whd-no-handlers": "`whd serve --no-handlers`",
  webhook: "adnanh/webhook (HMAC rule, `/bin/true`)",
};

/** A trivial module handler. */
export const TRIVIAL_TS = "export default () => {};\n";
/** A trivial executable handler. */
export const EXIT_0 = "#!/bin/sh\nexit 0\n";

/**
 * Writes a whd config in `dir` serving Stripe deliveries on {@linkcode PATH} with the inbox at
 * `dbFile` and handlers from `handlersDir`; returns its path. `extraProviders` is appended
 * under `providers:` (YAML, indented two spaces).
 */
export async function writeWhdConfig(
  dir: string,
  dbFile: string,
  handlersDir: string,
  extraProviders = "",
): Promise<string> {
  const file = join(dir, "whd.yaml");
  await Deno.writeTextFile(
    file,
    `server:
  host: 127.0.0.1
  port: 8080
database:
  url: file:${dbFile}
handlers:
  dir: ${handlersDir}
providers:
  stripe:
    webhooks:
      default:
        path: ${PATH}
        signing_secret_env: ${SECRET_ENV}
        # The pool is signed once before the run; a longer run must not age out of the window.
        tolerance_seconds: 86400
${extraProviders}`,
  );
  return file;
}

/** Writes a handlers dir under `dir` with one Stripe handler for `payment_intent.succeeded`. */
export async function writeHandlers(dir: string, kind: "ts" | "exec"): Promise<string> {
  const handlers = join(dir, "handlers");
  await Deno.mkdir(join(handlers, "stripe"), { recursive: true });
  if (kind === "ts") {
    await Deno.writeTextFile(join(handlers, "stripe", "payment_intent.succeeded.ts"), TRIVIAL_TS);
  } else {
    const file = join(handlers, "stripe", "payment_intent.succeeded");
    await Deno.writeTextFile(file, EXIT_0);
    await Deno.chmod(file, 0o755);
  }
  return handlers;
}

/**
 * The V8 flags whd runs with: those of `deno task start` (the compiled binary has the same ones
 * baked in by `deno task compile`).
 */
export const WHD_V8_FLAGS: string[] = (() => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`)).tasks as Record<
    string,
    string
  >;
  return tasks.start.split(" ").filter((arg) => arg.startsWith("--v8-flags="));
})();

/**
 * Starts `whd serve` the way a user does (`deno task start`: `deno run` with its V8 flags) with
 * `config`.
 */
export async function startWhd(
  procs: Procs,
  name: string,
  config: string,
  options: { dir: string; secret: string; handlers: boolean; env?: Record<string, string> },
): Promise<Running> {
  const port = freePort();
  const args = [
    "run",
    "--allow-all",
    ...WHD_V8_FLAGS,
    `--config=${REPO}deno.json`,
    `${REPO}main.ts`,
    "serve",
  ];
  args.push("--host", "127.0.0.1", "--port", String(port));
  if (!options.handlers) args.push("--no-handlers");
  const since = performance.now();
  const proc = procs.spawn(name, Deno.execPath(), args, {
    logFile: join(options.dir, `${name}.log`),
    cwd: options.dir,
    // The admin listener on an ephemeral port, so several whd systems never share 9090.
    env: {
      WHD_CONFIG: config,
      WHD_ADMIN_LISTEN: "127.0.0.1:0",
      [SECRET_ENV]: options.secret,
      ...options.env,
    },
  });
  return { proc, port, listenMs: await waitForPort(port, proc, since) };
}

/** Starts the bare `Deno.serve` baseline. */
export async function startBare(procs: Procs, dir: string): Promise<Running> {
  const port = freePort();
  const since = performance.now();
  const proc = procs.spawn("bare", Deno.execPath(), [
    "run",
    "--allow-net",
    `${REPO}bench/_bare_server.ts`,
    String(port),
  ], { logFile: join(dir, "bare.log") });
  return { proc, port, listenMs: await waitForPort(port, proc, since) };
}

/**
 * Starts the design floor (`_floor_server.ts`) storing into `dbFile`, with whd's V8 flags so the
 * two differ only in the work they do.
 */
export async function startFloor(
  procs: Procs,
  dir: string,
  dbFile: string,
  secret: string,
): Promise<Running> {
  const port = freePort();
  const since = performance.now();
  const proc = procs.spawn("floor", Deno.execPath(), [
    "run",
    "--allow-all",
    ...WHD_V8_FLAGS,
    `--config=${REPO}deno.json`,
    `${REPO}bench/_floor_server.ts`,
    String(port),
    dbFile,
    secret,
  ], { logFile: join(dir, "floor.log") });
  return { proc, port, listenMs: await waitForPort(port, proc, since) };
}

/**
 * Starts adnanh/webhook with one hook `stripe` ({@linkcode PATH}) whose trigger rule checks
 * `X-Signature` with `payload-hmac-sha256` and runs `/bin/true`; a mismatch answers 400.
 */
export async function startWebhook(procs: Procs, dir: string, secret: string): Promise<Running> {
  const hooks = join(dir, "hooks.json");
  await Deno.writeTextFile(
    hooks,
    JSON.stringify(
      [{
        id: PATH.split("/").pop(),
        "execute-command": "/bin/true",
        "command-working-directory": dir,
        "response-message": "ok",
        "http-methods": ["POST"],
        "trigger-rule-mismatch-http-response-code": 400,
        "trigger-rule": {
          match: {
            type: "payload-hmac-sha256",
            secret,
            parameter: { source: "header", name: "X-Signature" },
          },
        },
      }],
      null,
      2,
    ),
  );
  const port = freePort();
  const since = performance.now();
  const proc = procs.spawn("webhook", "webhook", [
    "-hooks",
    hooks,
    "-ip",
    "127.0.0.1",
    "-port",
    String(port),
  ], { logFile: join(dir, "webhook.log") });
  return { proc, port, listenMs: await waitForPort(port, proc, since) };
}
