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
 * is logged by the parent as handler output. A run's console and `ctx.log` lines are capped
 * here, at about 64 KiB of whd's log per run; the cut is marked by one console line
 * "handler output truncated: …". Exits when stdin closes (the parent is gone).
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
import { isResponse, toReply } from "./handler_reply.ts";

/** Longest console line forwarded. */
const _MAX_CONSOLE_LINE = 16_384;

/**
 * Bytes of whd's log a run's console, `ctx.log` and uncaught-error lines may cost (the host
 * pool's default output cap); then one "handler output truncated" line, and the rest of the
 * run's lines are dropped here.
 */
const _MAX_RUN_LOG_BYTES = 65_536;

const _encoder = new TextEncoder();

/** The console line that marks a run's output as truncated. */
const _TRUNCATED = `handler output truncated: more than ${_MAX_RUN_LOG_BYTES} bytes of log ` +
  "lines in this run; the rest is dropped";

/**
 * What whd's log adds around a forwarded line of this run (time, level, the event's fields
 * and the handler path the dispatcher binds), estimated from the event, with some slack.
 */
function _lineOverhead(event: { provider: string; id: string; type: string }): number {
  const around = {
    time: "2000-01-01T00:00:00.000Z",
    level: "debug",
    provider: event.provider,
    event_id: event.id,
    event_type: event.type,
    attempt: 1000,
    handler: `handlers/${event.provider}/${event.type}.ts`,
  };
  return _encoder.encode(JSON.stringify(around)).length + 64;
}

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

/** `ctx.stripe`, built by the one Stripe client builder; the SDK loads only when asked for. */
function _stripeClient(options: StripeOptions): Promise<unknown> {
  return import("../providers/stripe_api.ts").then(({ stripeClient }) =>
    stripeClient(options.apiKey, options)
  );
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
  let current: { runId: number; controller: AbortController; overhead: number } | undefined;
  const runIdNow = () => current?.runId ?? -1;
  /** The log bytes spent by one run (or by output between runs, `runId` -1). */
  let budget = { runId: -2, spent: 0 };
  /** Forwards a log line unless its run has used up its share of the log. */
  const postLog = (
    runId: number,
    level: LogLevel,
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    if (budget.runId !== runId) budget = { runId, spent: 0 };
    if (budget.spent === Infinity) return;
    const overhead = current?.runId === runId ? current.overhead : 256;
    const size = overhead + _encoder.encode(JSON.stringify({ message, fields })).length;
    if (budget.spent + size > _MAX_RUN_LOG_BYTES) {
      budget.spent = Infinity;
      // Sent as a console line, so that when the pool's own output cap (module_runner.ts)
      // fired first it swallows this one: the run is marked once either way.
      post({
        kind: "log",
        runId,
        level: "warn",
        message: "handler output",
        fields: { stream: "console", line: _TRUNCATED },
      });
      return;
    }
    budget.spent += size;
    post({ kind: "log", runId, level, message, fields });
  };
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
      postLog(runIdNow(), level, "handler output", {
        stream: "console",
        line: line.slice(0, _MAX_CONSOLE_LINE),
      });
    };
  }

  const warn = (message: string, error: unknown) =>
    postLog(runIdNow(), "warn", message, { error: _errorText(error) });
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
    current = { runId, controller, overhead: _lineOverhead(message.event) };
    if (message.env) env = message.env;
    try {
      const handler = await load(message.hash, message.code);
      if (message.code !== undefined) post({ kind: "loaded", runId });
      const log = (level: LogLevel) => (text: string, fields?: HandlerLogFields) =>
        postLog(runId, level, String(text), _plain(fields));
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
      const returned = await handler(message.event, ctx);
      if (isResponse(returned)) {
        post({ kind: "done", runId, ok: true, reply: await toReply(returned) });
      } else {
        post({ kind: "done", runId, ok: true });
      }
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
