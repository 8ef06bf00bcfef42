/**
 * `whd handlers run`: one handler run outside the daemon. The delivery body (a realistic
 * fixture, the provider's sample, or the user's file) is signed with a throw-away secret and
 * verified by the provider's own verifier, so the event is exactly what whd would store; the
 * handler that would run for it is resolved from the handlers directory (middleware included)
 * and run once, in a handler host process or as an executable. Nothing is stored.
 *
 * @example
 * ```ts ignore
 * const result = await tryHandler({ config, webhook, type: "invoice.paid", env, now, print });
 * console.log(result.outcome); // "ok"
 * ```
 * @module
 */
import type { Config, WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import type { Event } from "../event.ts";
import type { AttemptOutcome } from "../inbox/attempts.ts";
import type { Logger, LogLevel } from "../ops/log.ts";
import { findFixture, renderFixture } from "../providers/fixtures/mod.ts";
import { PROVIDERS } from "../providers/mod.ts";
import { displayPath } from "./discovery.ts";
import type { StripeOptions } from "./host_protocol.ts";
import { fromReply } from "./handler_reply.ts";
import { createHostPool } from "./module_runner.ts";
import { attemptOutcome } from "./outcomes.ts";
import { outputLine } from "./output_tail.ts";
import { loadRegistry } from "./registry.ts";
import { createExecRunner, createModuleRunner, type Runner } from "./runner.ts";

/** What {@linkcode tryHandler} needs. */
export interface TryOptions {
  config: Pick<Config, "handlers" | "providers">;
  webhook: WebhookConfig;
  /** The event type to run (picks the fixture); with `body`, a hint for signing only. */
  type?: string;
  /** The delivery body; default a realistic sample of `type`. */
  body?: string;
  env: Record<string, string>;
  now: number;
  /** Receives each line of the handler's output as it comes. */
  print(line: string): void;
  /** Scrubs secrets from the output (the CLI's scrubber). */
  scrub(text: string): string;
}

/** How the run went. */
export interface TryResult {
  event: Event;
  /** The handler file (as displayed). */
  handler: string;
  outcome: AttemptOutcome;
  error?: string;
  ms: number;
  /** The Response it returned (what a `mode: sync` webhook would send). */
  reply?: Response;
}

/** Builds the event whd would store for `body` (or a sample) delivered to `webhook`. */
export async function sampleEvent(
  webhook: WebhookConfig,
  options: { type?: string; body?: string; now: number },
): Promise<Event> {
  const kind = PROVIDERS[webhook.type];
  let body = options.body;
  let type = options.type;
  let id: string | undefined;
  if (body === undefined) {
    const fixture = findFixture(webhook.type, type);
    if (fixture) ({ body, type, id } = renderFixture(fixture, { now: options.now }));
    else ({ body, type } = kind.sample(type));
  }
  const secret = webhook.type === "standard"
    ? `whsec_${btoa(crypto.randomUUID())}`
    : crypto.randomUUID();
  const headers = await kind.sign(webhook, body, {
    secret,
    id: id ?? crypto.randomUUID(),
    type,
    timestamp: Math.floor(options.now / 1000),
  });
  const verified = await kind.createVerifier({ ...webhook, verify_signature: true }, [secret])
    .verify({
      headers: new Headers(headers),
      body: new TextEncoder().encode(body),
      now: options.now,
    });
  if (!verified.ok) {
    throw new UserError(
      `the ${options.body === undefined ? "sample" : "--data"} body is not a ${webhook.type} ` +
        `event whd would store: ${verified.message}`,
    );
  }
  if (verified.reply) {
    throw new UserError(
      `a ${verified.type} delivery is answered by whd itself and never stored: no handler runs`,
    );
  }
  let payload: unknown = verified.payload;
  try {
    payload = JSON.parse(verified.payload);
  } catch { /* stored as received */ }
  return {
    id: verified.id,
    provider: webhook.provider,
    webhook: webhook.name,
    type: verified.type,
    payload,
    received_at: new Date(options.now).toISOString(),
    source: "delivery",
  };
}

/** Resolves and runs the handler for a sample event once; stores nothing. */
export async function tryHandler(options: TryOptions): Promise<TryResult> {
  const { config, webhook } = options;
  const event = await sampleEvent(webhook, options);
  const registry = await loadRegistry(config.handlers.dir);
  const handler = registry.resolve(event.provider, event.type);
  if (!handler) {
    throw new UserError(
      `no handler for ${event.provider} ${event.type} in ${config.handlers.dir}: add ` +
        `${config.handlers.dir}/${event.provider}/${event.type}.ts (or a _default.ts)`,
    );
  }
  if (handler.error) {
    throw new UserError(`${displayPath(handler.path)} does not load: ${handler.error}`);
  }
  const log = _printingLogger(options.print, options.scrub);
  const provider = config.providers.find((p) => p.name === event.provider);
  const apiKey = provider?.api_key_env ? options.env[provider.api_key_env] : undefined;
  const stripe: StripeOptions | undefined = provider?.type === "stripe" && apiKey
    ? { apiKey, apiBase: provider.api_base, apiVersion: provider.api_version }
    : undefined;
  const runner: Runner = handler.kind === "module"
    ? createModuleRunner({
      pool: createHostPool({ maxIdle: 1 }),
      env: () => options.env,
      stripeFor: () => stripe,
    })
    : createExecRunner();
  const started = performance.now();
  try {
    const result = await runner.run(event, {
      handler,
      attempt: 1,
      timeoutMs: config.handlers.timeout_ms,
      log,
      signal: new AbortController().signal,
    });
    return {
      event,
      handler: displayPath(handler.path),
      outcome: attemptOutcome(result),
      error: result.ok ? undefined : options.scrub(result.error ?? "handler failed"),
      ms: Math.round(performance.now() - started),
      reply: result.reply ? fromReply(result.reply) : undefined,
    };
  } finally {
    await runner.close();
  }
}

/** A logger that prints a run's output lines (see `output_tail.ts`), scrubbed. */
function _printingLogger(print: (line: string) => void, scrub: (text: string) => string): Logger {
  const logger: Logger = {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: () => logger,
    scrub,
    capped: () => logger,
  };
  function emit(level: LogLevel, message: string, fields?: Record<string, unknown>) {
    print(scrub(outputLine(level, message, fields)));
  }
  return logger;
}
