/**
 * The public types of a handler file: what `handlers/<provider>/<type>.ts` default-exports.
 *
 * Handlers import them type-only from the public entry `@whd/whd/handler` (`deno.json`
 * `exports`), which `deno check` resolves inside this repository; the import is erased when whd
 * bundles the handler, so nothing needs to resolve at run time.
 *
 * @example
 * ```ts ignore
 * // handlers/stripe/payment_intent.succeeded.ts
 * import type { Handler } from "@whd/whd/handler";
 *
 * const handler: Handler = async (event, ctx) => {
 *   ctx.log.info("paid", { id: event.id, attempt: ctx.attempt });
 * };
 * export default handler;
 * ```
 * @module
 */
import type Stripe from "stripe";
import type { EventPayloadMap as GitHubPayloads } from "@octokit/webhooks-types";
import type { Event } from "../event.ts";

export type { Event };

/** Extra key/values on a handler's log line (plain JSON values). */
export type HandlerLogFields = Record<string, unknown>;

/** A logger bound to the event: every line carries its provider, id, type and attempt. */
export interface HandlerLogger {
  debug(message: string, fields?: HandlerLogFields): void;
  info(message: string, fields?: HandlerLogFields): void;
  warn(message: string, fields?: HandlerLogFields): void;
  error(message: string, fields?: HandlerLogFields): void;
}

/** The second argument of a handler. */
export interface HandlerContext {
  /** Logs into whd's log, bound to the event. */
  log: HandlerLogger;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  /** Aborted when the handler reaches `handlers.timeout_ms`; pass it to `fetch`. */
  signal: AbortSignal;
  /** whd's environment variables (a copy of `Deno.env.toObject()`). */
  env: Record<string, string>;
  /**
   * A ready Stripe client when the event's provider has `api_key_env` set (and the variable
   * is present); honours the provider's `api_base` and `api_version`.
   */
  stripe?: Stripe;
}

/** Every Stripe snapshot event type the `stripe` SDK knows (`invoice.paid`, …). */
export type StripeEventType = Stripe.Event["type"];

/** `github` event names (`push`) and name.action pairs (`pull_request.opened`). */
export type GitHubEventType =
  | keyof GitHubPayloads
  | {
    [K in keyof GitHubPayloads]: GitHubPayloads[K] extends { action: infer A extends string }
      ? `${K & string}.${A}`
      : never;
  }[keyof GitHubPayloads];

/** The Stripe events a type or `*` pattern (`customer.subscription.*`) matches. */
type _StripeOf<T extends string> = T extends `${infer Head}*${infer Tail}`
  ? Extract<Stripe.Event, { type: `${Head}${string}${Tail}` }>
  : Extract<Stripe.Event, { type: T }>;

/** The GitHub payload of `name` or `name.action`. */
type _GitHubOf<T extends string> = T extends keyof GitHubPayloads ? GitHubPayloads[T]
  : T extends `${infer N extends keyof GitHubPayloads & string}.${infer A}`
    ? Extract<GitHubPayloads[N], { action: A }>
  : never;

/**
 * The payload of an event of type `T` (a handler file's name): the `stripe` SDK's event for a
 * Stripe type or pattern, the `@octokit/webhooks-types` payload for a GitHub event, else
 * `unknown`.
 */
export type PayloadOf<T extends string> = string extends T ? unknown
  : [_StripeOf<T>] extends [never] ? ([_GitHubOf<T>] extends [never] ? unknown : _GitHubOf<T>)
  : _StripeOf<T>;

/**
 * The event a handler for type `T` receives: `payload` narrowed by {@linkcode PayloadOf}.
 *
 * @example
 * ```ts ignore
 * const handler: Handler<"invoice.paid"> = (event) => {
 *   event.payload.data.object.amount_paid; // number: a Stripe.Invoice
 * };
 * ```
 */
export interface TypedEvent<T extends string = string> extends Omit<Event, "payload" | "type"> {
  type: string extends T ? string : T extends `${string}*${string}` ? string : T;
  payload: PayloadOf<T>;
}

/**
 * Middleware: the default export of `handlers/_middleware.ts` (every provider) or
 * `handlers/<provider>/_middleware.ts`, run around every module handler of its scope,
 * outermost first. `next()` runs the inner middleware or the handler and resolves to its
 * return value (return it: `return await next()`); not calling it skips the handler (the
 * event is done); throwing fails the run like a handler would.
 *
 * @example
 * ```ts ignore
 * const timing: Middleware = async (event, ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     ctx.log.info("ran", { ms: performance.now() - started });
 *   }
 * };
 * export default timing;
 * ```
 */
export type Middleware = (
  event: TypedEvent,
  ctx: HandlerContext,
  next: () => Promise<Response | void>,
) => Promise<Response | void> | Response | void;

/**
 * A handler: resolve to succeed, throw (or reject) to fail and be retried with backoff. In a
 * `mode: sync` webhook it may resolve to a web `Response`, which whd sends as the delivery's
 * reply once the event is done (body at most 64 KiB); elsewhere a returned Response is ignored.
 * `Handler<"invoice.paid">` (the file's type or pattern) narrows `event.payload`; plain
 * `Handler` leaves it `unknown`.
 */
export type Handler<T extends string = string> = (
  event: TypedEvent<T>,
  ctx: HandlerContext,
) => Promise<Response | void> | Response | void;
