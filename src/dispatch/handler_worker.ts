/**
 * Worker entry that runs module handlers, so a handler that spins or blocks cannot stall
 * the process: the dispatcher terminates the worker at the timeout.
 *
 * Receives {@linkcode ToWorker} messages, imports the handler's bundled code as a `data:`
 * URL (cached by the runtime per URL), builds `ctx` and posts {@linkcode FromWorker}s back.
 * Created as `new Worker(new URL("./handler_worker.ts", import.meta.url), { type: "module" })`
 * so `deno compile --include src/dispatch/handler_worker.ts` embeds it.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { Handler, HandlerContext, HandlerLogFields } from "./handler_types.ts";
import type { FromWorker, StripeOptions, ToWorker } from "./worker_protocol.ts";
import { toDataUrl } from "./data_url.ts";

const _aborts = new Map<number, AbortController>();
const _stripeClients = new Map<string, Promise<unknown>>();

function _post(message: FromWorker): void {
  self.postMessage(message);
}

function _plain(fields: HandlerLogFields | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(fields, (_k, v) => v instanceof Error ? v.message : v));
  } catch {
    return { fields: String(fields) };
  }
}

function _stripe(options: StripeOptions): Promise<unknown> {
  const cacheKey = JSON.stringify(options);
  let client = _stripeClients.get(cacheKey);
  if (!client) {
    client = import("stripe").then(({ default: Stripe }) => {
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
    _stripeClients.set(cacheKey, client);
  }
  return client;
}

function _errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
}

async function _run(message: Extract<ToWorker, { kind: "run" }>): Promise<void> {
  const { runId } = message;
  const controller = new AbortController();
  _aborts.set(runId, controller);
  try {
    const module = await import(toDataUrl(message.code));
    const handler = module.default as Handler;
    if (typeof handler !== "function") throw new Error("the default export is not a function");
    const log =
      (level: "debug" | "info" | "warn" | "error") => (text: string, fields?: HandlerLogFields) =>
        _post({ kind: "log", runId, level, message: String(text), fields: _plain(fields) });
    const ctx: HandlerContext = {
      log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
      attempt: message.attempt,
      signal: controller.signal,
      env: message.env,
    };
    if (message.stripe) ctx.stripe = await _stripe(message.stripe) as HandlerContext["stripe"];
    await handler(message.event, ctx);
    _post({ kind: "done", runId, ok: true });
  } catch (error) {
    _post({ kind: "done", runId, ok: false, error: _errorText(error) });
  } finally {
    _aborts.delete(runId);
  }
}

self.addEventListener("unhandledrejection", (e) => {
  // A promise the handler forgot to await must not kill the worker (and other runs in it).
  e.preventDefault();
  _post({
    kind: "log",
    runId: -1,
    level: "warn",
    message: "unhandled rejection in a handler",
    fields: { error: _errorText(e.reason) },
  });
});

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const message = e.data;
  if (message.kind === "run") void _run(message);
  else _aborts.get(message.runId)?.abort(new DOMException("handler timed out", "TimeoutError"));
};
