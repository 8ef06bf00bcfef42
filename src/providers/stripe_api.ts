/**
 * Stripe's API as whd uses it: the one place a `Stripe` client is built ({@linkcode stripeClient}),
 * the calls' retry and error rules, and listing events since a time (for `whd backfill`). Webhook
 * endpoints (for `whd endpoints`) are in `stripe_endpoints.ts`.
 *
 * The SDK retries connection errors, 409 and 5xx itself (`maxNetworkRetries`); a plain 429 it
 * throws at once, so {@linkcode withRateLimitRetry} retries it here, honouring `Retry-After`.
 * Every SDK error leaves this module as a {@linkcode UserError} with a one-line message that
 * says what failed and how to fix it, and never contains the API key.
 *
 * @example
 * ```ts
 * import { createStripeClient, listEventsSince } from "./stripe_api.ts";
 * const stripe = createStripeClient(provider, (name) => Deno.env.get(name));
 * for await (const { events } of listEventsSince(stripe, provider, { since: Date.now() - 86_400_000 })) {
 *   for (const event of events) console.log(event.id, event.type);
 * }
 * ```
 * @module
 */
import Stripe from "stripe";
import type { ProviderConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { STRIPE_EVENT_TYPES } from "./stripe_event_types.ts";

/** Stripe's own API, used when a provider has no `api_base`. */
export const STRIPE_API_BASE = "https://api.stripe.com";

/** Options for {@linkcode createStripeClient}. */
export interface StripeClientOptions {
  /** Retries of connection errors, 409 and 5xx done by the SDK; default 3. */
  maxNetworkRetries?: number;
  /** Per-request timeout in milliseconds; default 30 s. */
  timeoutMs?: number;
}

/** Options shared by the calls that go to the API. */
export interface StripeCallOptions {
  /** How to wait before retrying a 429; default a real timer. Tests inject a recorder. */
  sleep?: (ms: number) => Promise<void>;
  /** How many 429 answers in a row to retry before giving up; default 6. */
  maxRateLimitRetries?: number;
}

/** A Stripe event as listed by the API. */
export type StripeEvent = Stripe.Event;
/** A Stripe webhook endpoint. */
export type StripeEndpoint = Stripe.WebhookEndpoint;

/** Name of the env var holding the provider's API key, or a UserError saying how to set it. */
export function apiKeyEnv(provider: ProviderConfig): string {
  if (!provider.api_key_env) {
    throw new UserError(
      `provider "${provider.name}" has no api_key_env: add \`api_key_env: STRIPE_SECRET_KEY\` ` +
        `under providers.${provider.name} in the config and set that env var to your Stripe secret key`,
    );
  }
  return provider.api_key_env;
}

/** The base URL the provider talks to (`api_base`, else Stripe's API), without a trailing `/`. */
export function apiBase(provider: ProviderConfig): string {
  return (provider.api_base ?? STRIPE_API_BASE).replace(/\/+$/, "");
}

/**
 * Builds a `Stripe` client for a provider: its key from the env var named by `api_key_env`,
 * host/port/protocol from `api_base` (so whd can be aimed at stripe-mock or a fake), SDK
 * network retries, and the pinned `api_version` (else the SDK's own pinned version).
 *
 * Throws a UserError when the provider is not a Stripe provider, `api_key_env` is missing or
 * the env var is unset, or `api_base` is not an http(s) origin.
 */
export function createStripeClient(
  provider: ProviderConfig,
  env: (name: string) => string | undefined,
  options: StripeClientOptions = {},
): Stripe {
  if (provider.type !== "stripe") {
    throw new UserError(
      `provider "${provider.name}" is of type ${provider.type}: backfill and endpoints work only with a stripe provider (use --provider)`,
    );
  }
  const keyEnv = apiKeyEnv(provider);
  const key = env(keyEnv)?.trim();
  if (!key) {
    throw new UserError(
      `set ${keyEnv} to your Stripe secret key (sk_test_… or sk_live_…, from Dashboard → Developers → API keys); ` +
        `providers.${provider.name}.api_key_env names it`,
    );
  }
  const base = new URL(apiBase(provider));
  if ((base.protocol !== "http:" && base.protocol !== "https:") || base.pathname !== "/") {
    throw new UserError(
      `providers.${provider.name}.api_base must be an http(s) origin such as https://api.stripe.com or http://127.0.0.1:12111, not ${base.href}`,
    );
  }
  return stripeClient(key, { apiBase: base.origin, apiVersion: provider.api_version }, options);
}

/** Where a client talks to: what {@linkcode stripeClient} needs besides the key. */
export interface StripeTarget {
  /** An http(s) origin, e.g. `http://127.0.0.1:12111`; default Stripe's API. */
  apiBase?: string;
  /** The pinned API version; default the SDK's own. */
  apiVersion?: string;
}

/**
 * The one place whd constructs a `Stripe` client (backfill, endpoints, reconcile and a
 * handler's `ctx.stripe` all come here): the base URL's host/port/protocol, SDK network
 * retries, a timeout, no telemetry, and the pinned API version. Checks nothing: callers with a
 * config use {@linkcode createStripeClient}, which does.
 */
export function stripeClient(
  key: string,
  target: StripeTarget,
  options: StripeClientOptions = {},
): Stripe {
  const base = new URL(target.apiBase ?? STRIPE_API_BASE);
  const protocol = base.protocol === "http:" ? "http" : "https";
  return new Stripe(key, {
    host: base.hostname,
    port: base.port || (protocol === "http" ? 80 : 443),
    protocol,
    maxNetworkRetries: options.maxNetworkRetries ?? 3,
    timeout: options.timeoutMs ?? 30_000,
    telemetry: false,
    // The SDK's types only name its latest version; a pinned older one is still valid.
    ...(target.apiVersion
      ? { apiVersion: target.apiVersion as Stripe.StripeConfig["apiVersion"] }
      : {}),
  });
}

/** Milliseconds to wait as told by a `Retry-After` header (seconds or an HTTP date). */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const _MAX_WAIT_MS = 120_000;

function _defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `call`, retrying when Stripe answers 429: waits `Retry-After` when given (capped at two
 * minutes), else 1 s, 2 s, 4 s … (capped at 30 s). Other errors pass through unchanged.
 */
export async function withRateLimitRetry<T>(
  call: () => Promise<T>,
  options: StripeCallOptions = {},
): Promise<T> {
  const sleep = options.sleep ?? _defaultSleep;
  const max = options.maxRateLimitRetries ?? 6;
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeRateLimitError) || attempt >= max) throw error;
      const told = retryAfterMs(error.headers?.["retry-after"], Date.now());
      const backoff = Math.min(1000 * 2 ** attempt, 30_000);
      await sleep(Math.min(told ?? backoff, _MAX_WAIT_MS));
    }
  }
}

/** Removes anything shaped like a Stripe key or signing secret from a message. */
function _scrub(text: string): string {
  return text.replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, "[key]")
    .replace(/\bwhsec_[A-Za-z0-9]+/g, "[secret]");
}

/**
 * Maps an error from the SDK to a one-line UserError naming the env var or `api_base` involved
 * and the fix. `action` says what was being done ("listing events"). Non-Stripe errors
 * (including UserErrors) are returned unchanged.
 */
export function toStripeUserError(
  error: unknown,
  provider: ProviderConfig,
  action: string,
): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const keyEnv = provider.api_key_env ?? "the API key";
  const base = apiBase(provider);
  const status = error.statusCode;
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return new UserError(
      `${keyEnv} was rejected by Stripe (401) while ${action}: check the key in ${keyEnv} ` +
        `(a secret key sk_test_…/sk_live_… from Dashboard → Developers → API keys, not a publishable pk_ key)`,
      { cause: error },
    );
  }
  if (error instanceof Stripe.errors.StripePermissionError) {
    return new UserError(
      `${keyEnv} is not allowed to do this (403) while ${action}: use a secret key, or a restricted key ` +
        `with read access to Events and write access to Webhook Endpoints`,
      { cause: error },
    );
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    const detail = _networkDetail(error);
    return new UserError(
      `cannot reach the Stripe API at ${base} while ${action} (${detail}): ` +
        `check the network, or providers.${provider.name}.api_base`,
      { cause: error },
    );
  }
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return new UserError(
      `Stripe kept rate limiting requests (429) while ${action}: wait a minute and run the command again`,
      { cause: error },
    );
  }
  if (error instanceof Stripe.errors.StripeAPIError && status === undefined) {
    // The SDK's "Invalid JSON received from the Stripe API": something else answered.
    return new UserError(
      `the server at ${base} did not answer like the Stripe API while ${action}: ` +
        `check providers.${provider.name}.api_base (https://api.stripe.com, or a Stripe mock)`,
      { cause: error },
    );
  }
  if (status !== undefined && status >= 500) {
    return new UserError(
      `the Stripe API at ${base} failed (${status}) while ${action}, even after retries: try again later`,
      { cause: error },
    );
  }
  return new UserError(
    `Stripe refused ${action} (${status ?? "error"}): ${_scrub(error.message).split("\n")[0]}`,
    { cause: error },
  );
}

/** The most specific reason in an error's cause chain, e.g. "Connection refused (os error 111)". */
function _networkDetail(error: Stripe.errors.StripeError): string {
  let deepest: unknown = error.detail ?? error;
  for (let i = 0; i < 5 && deepest instanceof Error && deepest.cause instanceof Error; i++) {
    deepest = deepest.cause;
  }
  const text = deepest instanceof Error ? deepest.message : String(deepest);
  const parts = _scrub(text).split("\n")[0].split(": ");
  return parts.slice(-2).join(": ");
}

/** Runs one API call with 429 retries, turning any failure into a one-line UserError. */
export async function stripeCall<T>(
  provider: ProviderConfig,
  action: string,
  call: () => Promise<T>,
  options: StripeCallOptions,
): Promise<T> {
  try {
    return await withRateLimitRetry(call, options);
  } catch (error) {
    throw toStripeUserError(error, provider, action);
  }
}

/**
 * Awaits a list call and checks it is a list. Anything else (a server at `api_base` that
 * answers 200 with other JSON) becomes the SDK's own "not the Stripe API" error, which
 * {@linkcode toStripeUserError} turns into one line naming `api_base`.
 */
export async function stripeList<T>(call: Promise<Stripe.ApiList<T>>): Promise<Stripe.ApiList<T>> {
  const page = await call;
  if (!Array.isArray(page?.data)) {
    throw new Stripe.errors.StripeAPIError({ message: "the answer is not a Stripe list" });
  }
  return page;
}

/** Options for {@linkcode listEventsSince}. */
export interface ListEventsOptions extends StripeCallOptions {
  /** Oldest creation time to include, in milliseconds since the epoch. */
  since: number;
  /**
   * Types to ask the API for. Sent as `types[]` only when there are at most 20 and each is an
   * exact type in {@linkcode STRIPE_EVENT_TYPES}; otherwise every type is listed, so callers
   * still filter what they get.
   */
  types?: readonly string[];
  /** Page size, 1–100; default 100. */
  pageSize?: number;
}

/** One page of {@linkcode listEventsSince}. */
export interface EventPage {
  /** 1, 2, … */
  page: number;
  /** Newest first. */
  events: StripeEvent[];
  /** True for the final page. */
  last: boolean;
}

/**
 * Iterates over the events created at or after `since`, newest first, a page at a time
 * (`created[gte]`, `limit`, `starting_after` until `has_more` is false). Throws a UserError
 * (see {@linkcode toStripeUserError}) if a page cannot be fetched.
 */
export async function* listEventsSince(
  stripe: Stripe,
  provider: ProviderConfig,
  options: ListEventsOptions,
): AsyncGenerator<EventPage> {
  const types = options.types && options.types.length <= 20 &&
      options.types.every((t) => STRIPE_EVENT_TYPES.includes(t))
    ? [...options.types]
    : undefined;
  const params: Stripe.EventListParams = {
    created: { gte: Math.floor(options.since / 1000) },
    limit: options.pageSize ?? 100,
    types,
  };
  let startingAfter: string | undefined;
  for (let page = 1;; page++) {
    const result = await stripeCall(
      provider,
      `listing events (page ${page})`,
      () => stripeList(stripe.events.list({ ...params, starting_after: startingAfter })),
      options,
    );
    const last = !result.has_more || result.data.length === 0;
    yield { page, events: result.data, last };
    if (last) return;
    startingAfter = result.data[result.data.length - 1].id;
  }
}
