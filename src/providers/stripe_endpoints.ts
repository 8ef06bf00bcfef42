/**
 * Stripe webhook endpoints as whd manages them (`whd endpoints`): list, create, update, delete,
 * through the client from `stripe_api.ts` and its retry and error rules; and the expansion of a
 * webhook's `events` into the types an endpoint enables.
 *
 * @example
 * ```ts ignore
 * import { endpointApi } from "./stripe_endpoints.ts";
 * const api = endpointApi(createStripeClient(provider, (name) => Deno.env.get(name)), provider);
 * for (const endpoint of await api.list()) console.log(endpoint.url);
 * ```
 * @module
 */
import type Stripe from "stripe";
import { matchesEvents } from "../config/event_filter.ts";
import type { ProviderConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import {
  stripeCall,
  type StripeCallOptions,
  type StripeEndpoint,
  stripeList,
} from "./stripe_api.ts";
import { STRIPE_EVENT_TYPES } from "./stripe_event_types.ts";

/** What a new endpoint gets. */
export interface EndpointInput {
  url: string;
  enabledEvents: string[];
  description?: string;
  /** Stripe API version events are rendered with; fixed for the endpoint's life. */
  apiVersion?: string;
  metadata?: Record<string, string>;
}

/** Fields `update` may change; absent fields are left as they are. */
export interface EndpointChanges {
  url?: string;
  enabledEvents?: string[];
  description?: string;
  disabled?: boolean;
  metadata?: Record<string, string>;
}

/**
 * The account's webhook endpoints, as reached through one provider's client. Every call retries
 * 429s and fails with a one-line UserError (see {@linkcode toStripeUserError}).
 */
export interface EndpointApi {
  /** Lists every webhook endpoint of the account (all pages). */
  list(): Promise<StripeEndpoint[]>;
  /** Retrieves one webhook endpoint. */
  get(id: string): Promise<StripeEndpoint>;
  /**
   * Creates a webhook endpoint. The result carries `secret`, which Stripe returns only here:
   * store it at once and never log it.
   */
  create(input: EndpointInput): Promise<StripeEndpoint>;
  /** Updates a webhook endpoint. */
  update(id: string, changes: EndpointChanges): Promise<StripeEndpoint>;
  /** Deletes a webhook endpoint. */
  delete(id: string): Promise<void>;
}

/**
 * The webhook-endpoint calls of `provider` through `stripe` (a client from
 * {@linkcode createStripeClient}). Fields left undefined are not sent.
 *
 * @example
 * ```ts
 * const endpoints = endpointApi(stripe, provider);
 * for (const e of await endpoints.list()) console.log(e.id, e.url);
 * ```
 */
export function endpointApi(
  stripe: Stripe,
  provider: ProviderConfig,
  options: StripeCallOptions = {},
): EndpointApi {
  const call = <T>(action: string, fn: () => Promise<T>) =>
    stripeCall(provider, action, fn, options);
  const endpoints = stripe.webhookEndpoints;
  return {
    list: () =>
      call("listing webhook endpoints", async () => {
        const all: StripeEndpoint[] = [];
        let startingAfter: string | undefined;
        for (;;) {
          const page = await stripeList(
            endpoints.list({ limit: 100, starting_after: startingAfter }),
          );
          all.push(...page.data);
          if (!page.has_more || page.data.length === 0) return all;
          startingAfter = page.data[page.data.length - 1].id;
        }
      }),
    get: (id) => call(`retrieving webhook endpoint ${id}`, () => endpoints.retrieve(id)),
    create: (input) =>
      call(`creating a webhook endpoint for ${input.url}`, () =>
        endpoints.create({
          url: input.url,
          enabled_events: input.enabledEvents as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
          description: input.description,
          api_version: (input.apiVersion || undefined) as
            | Stripe.WebhookEndpointCreateParams.ApiVersion
            | undefined,
          metadata: input.metadata,
        })),
    update: (id, changes) =>
      call(`updating webhook endpoint ${id}`, () =>
        endpoints.update(id, {
          url: changes.url,
          enabled_events: changes.enabledEvents as
            | Stripe.WebhookEndpointUpdateParams.EnabledEvent[]
            | undefined,
          description: changes.description,
          disabled: changes.disabled,
          metadata: changes.metadata,
        })),
    delete: async (id) => {
      await call(`deleting webhook endpoint ${id}`, () => endpoints.del(id));
    },
  };
}

/**
 * Turns a webhook's `events` allowlist into Stripe-valid `enabled_events`: no list or a `*`
 * entry gives `["*"]`; an exact known type stays; a family (`customer.subscription.*`, or a
 * prefix such as `invoice` that {@linkcode matchesEvents} treats as one) is expanded against
 * {@linkcode STRIPE_EVENT_TYPES}; an unknown exact type is kept (Stripe may know newer types and
 * will say if not). A family that matches no known type is a UserError.
 *
 * @example
 * ```ts
 * toEnabledEvents(["invoice.paid", "customer.subscription.*"]);
 * // ["customer.subscription.created", …, "invoice.paid"]
 * ```
 */
export function toEnabledEvents(events: readonly string[] | undefined, where = "events"): string[] {
  if (!events || events.includes("*")) return ["*"];
  const out = new Set<string>();
  for (const entry of events) {
    if (STRIPE_EVENT_TYPES.includes(entry)) {
      out.add(entry);
      continue;
    }
    const family = STRIPE_EVENT_TYPES.filter((t) => matchesEvents(t, [entry]));
    if (family.length > 0) {
      for (const t of family) out.add(t);
    } else if (entry.includes("*")) {
      throw new UserError(
        `${where}: "${entry}" matches no known Stripe event type, and Stripe accepts only exact types or "*" in enabled_events: list the exact types`,
      );
    } else {
      out.add(entry);
    }
  }
  return [...out].sort();
}
