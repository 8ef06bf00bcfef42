/**
 * Shared by `whd backfill` and `whd endpoints`: build the Stripe API client of a provider with
 * its key registered as a secret so logs scrub it.
 *
 * @module
 */
import type Stripe from "stripe";
import type { ProviderConfig } from "../config/schema.ts";
import { createStripeClient, type StripeClientOptions } from "../providers/stripe_api.ts";
import type { CliContext } from "./context.ts";

/** A Stripe client for `provider`; its key is added to `context.secrets`. */
export function stripeClientFor(
  context: CliContext,
  provider: ProviderConfig,
  options?: StripeClientOptions,
): Stripe {
  const client = createStripeClient(provider, (name) => context.env(name), options);
  const key = provider.api_key_env ? context.env(provider.api_key_env)?.trim() : undefined;
  if (key) context.secrets.add(key);
  return client;
}
