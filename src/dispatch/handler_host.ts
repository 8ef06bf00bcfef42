/**
 * The handler host: the body of a `whd __handler-host` child process, which runs module
 * handlers one at a time for the dispatcher's host pool (`module_runner.ts`). Being a process
 * of its own, a handler that spins, blocks or exits can be killed without touching whd.
 *
 * Reads {@linkcode ToHost} lines on stdin, imports a handler's bundled code as a `data:` URL
 * once per content hash (later runs of that hash come without code and reuse the module),
 * builds `ctx` and writes {@linkcode FromHost} lines on stdout behind the prefix from
 * {@linkcode HOST_PREFIX_ENV} (see `host_protocol.ts`). `console.*` is replaced so a handler's
 * console output travels as log messages; anything else a handler writes to stdout or stderr
 * is logged by the parent as handler output. Exits when stdin closes (the parent is gone).
 *
 * Reached from `main.ts` by a literal dynamic `import()`, so `deno compile` embeds it.
 *
 * @module
 */
import type { LogLevel } from "../ops/log.ts";
import type { Handler, HandlerContext, HandlerLogFields } from "./handler_types.ts";
import {
  type FromHost,
  HOST_PREFIX_ENV,
  type StripeOptions,
  type ToHost,
} from "./host_protocol.ts";
import { pumpLines } from "./child_io.ts";
import { toDataUrl } from "./data_url.ts";

/** Longest console line forwarded; the parent bounds the total per run. */
const _MAX_CONSOLE_LINE = 16_384;

function _plain(fields: HandlerLogFields | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(fields, (_k, v) => v instanceof Error ? v.message : v));
  } catch {
    return { fields: String(fields) };
  }
}

function _errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
}

function _stripeClient(options: StripeOptions): Promise<unknown> {
  return import("stripe").then(({ default: Stripe }) => {
    const config: Record<string, unknown> = {};
    if (options.apiVersion) config.apiVersion = options.apiVersion;
    if (options.apiBase) {
      const url = new URL(options.apiBase);
      config.host = url.hostname;
      config.protocol = url.protocol.replace(":", "");
      if (url.port) config.port = Number(url.port);
    }
    return new Stripe(options.apiKey, config);
  });
}

/**
 * Runs the host loop until stdin closes, then exits the process. Never returns.
 *
 * @example
 * ```ts ignore
 * // main.ts
 * if (Deno.args[0] === "__handler-host") {
 *   const { runHandlerHost } = await import("./src/dispatch/handler_host.ts");
 *   await runHandlerHost();
 * }
 * ```
 */
export async function runHandlerHost(): Promise<never> {
  const prefix = Deno.env.get(HOST_PREFIX_ENV);
  if (!prefix) {
    console.error("whd: __handler-host is internal to whd serve; do not run it directly");
    Deno.exit(2);
  }
  Deno.env.delete(HOST_PREFIX_ENV);
  const stdout = Deno.stdout;
  const encoder = new TextEncoder();
  const writeAll = (stream: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length;) at += stream.writeSync(bytes.subarray(at));
  };
  const post = (message: FromHost) => {
    // A run's end is marked on stderr first, so the parent attributes all of its stderr to it.
    if (message.kind === "done") writeAll(Deno.stderr, `\n${prefix}${message.runId}\n`);
    writeAll(stdout, `\n${prefix}${JSON.stringify(message)}\n`);
  };
  let current: { runId: number; controller: AbortController } | undefined;
  const runIdNow = () => current?.runId ?? -1;
  const stripeClients = new Map<string, Promise<unknown>>();
  const modules = new Map<string, Promise<Handler>>();
  let env: Record<string, string> = {};
  const load = (hash: string, code: string | undefined): Promise<Handler> => {
    let module = modules.get(hash);
    if (!module) {
      if (code === undefined) throw new Error(`handler host: no code for module ${hash}`);
      module = import(toDataUrl(code)).then((m) => {
        if (typeof m.default !== "function") {
          throw new Error("the default export is not a function");
        }
        return m.default as Handler;
      });
      modules.set(hash, module);
    }
    return module;
  };

  const levels: [keyof Console, LogLevel][] = [
    ["log", "info"],
    ["info", "info"],
    ["dir", "info"],
    ["debug", "debug"],
    ["trace", "debug"],
    ["warn", "warn"],
    ["error", "error"],
  ];
  for (const [method, level] of levels) {
    (globalThis.console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const line = args.map((a) => typeof a === "string" ? a : Deno.inspect(a, { colors: false }))
        .join(" ");
      post({
        kind: "log",
        runId: runIdNow(),
        level,
        message: "handler output",
        fields: { stream: "console", line: line.slice(0, _MAX_CONSOLE_LINE) },
      });
    };
  }

  const warn = (message: string, error: unknown) =>
    post({
      kind: "log",
      runId: runIdNow(),
      level: "warn",
      message,
      fields: { error: _errorText(error) },
    });
  // A promise the handler forgot to await, or a throw in its timer, must not kill the host.
  addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    warn("unhandled rejection in a handler", e.reason);
  });
  addEventListener("error", (e) => {
    e.preventDefault();
    warn("uncaught exception in a handler", e.error ?? e.message);
  });

  const run = async (message: Extract<ToHost, { kind: "run" }>) => {
    const { runId } = message;
    const controller = new AbortController();
    current = { runId, controller };
    if (message.env) env = message.env;
    try {
      const handler = await load(message.hash, message.code);
      const log = (level: LogLevel) => (text: string, fields?: HandlerLogFields) =>
        post({ kind: "log", runId, level, message: String(text), fields: _plain(fields) });
      const ctx: HandlerContext = {
        log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
        attempt: message.attempt,
        signal: controller.signal,
        env: { ...env },
      };
      if (message.stripe) {
        const key = JSON.stringify(message.stripe);
        if (!stripeClients.has(key)) stripeClients.set(key, _stripeClient(message.stripe));
        ctx.stripe = await stripeClients.get(key) as HandlerContext["stripe"];
      }
      await handler(message.event, ctx);
      post({ kind: "done", runId, ok: true });
    } catch (error) {
      post({ kind: "done", runId, ok: false, error: _errorText(error) });
    } finally {
      if (current?.runId === runId) current = undefined;
    }
  };

  post({ kind: "ready" });
  await pumpLines(Deno.stdin.readable, (line) => {
    if (line.trim() === "") return;
    const message = JSON.parse(line) as ToHost;
    if (message.kind === "run") void run(message);
    else if (current?.runId === message.runId) {
      current.controller.abort(new DOMException("handler timed out", "TimeoutError"));
    }
  });
  Deno.exit(0);
}
