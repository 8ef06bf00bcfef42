/**
 * Shared by `whd backfill` and `whd endpoints`: pick the Stripe provider and webhook named by
 * the flags (or the obvious one), and build its API client with the key registered as a
 * secret so logs scrub it.
 *
 * @module
 */
import type Stripe from "stripe";
import type { Config, ProviderConfig, WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { createStripeClient, type StripeClientOptions } from "../providers/stripe_api.ts";
import type { CliContext } from "./context.ts";

/**
 * The provider named `name`, else the only provider of type stripe. Throws a UserError that
 * lists the choices when there is none or several.
 */
export function pickStripeProvider(config: Config, name?: string): ProviderConfig {
  const stripes = config.providers.filter((p) => p.type === "stripe");
  if (name) {
    const found = config.providers.find((p) => p.name === name);
    if (!found) {
      throw new UserError(
        `no provider "${name}" in ${config.source}; providers: ${
          config.providers.map((p) => p.name).join(", ")
        }`,
      );
    }
    if (found.type !== "stripe") {
      throw new UserError(
        `provider "${name}" is of type ${found.type}; this command needs a stripe provider`,
      );
    }
    return found;
  }
  if (stripes.length === 1) return stripes[0];
  if (stripes.length === 0) {
    throw new UserError(`no stripe provider in ${config.source}: add one under providers:`);
  }
  throw new UserError(
    `several stripe providers (${stripes.map((p) => p.name).join(", ")}): pick one with --provider`,
  );
}

/** The webhook named `name`, else `default`, else the provider's only webhook. */
export function pickWebhook(provider: ProviderConfig, name?: string): WebhookConfig {
  const names = provider.webhooks.map((w) => w.name).join(", ");
  if (name) {
    const found = provider.webhooks.find((w) => w.name === name);
    if (!found) {
      throw new UserError(
        `provider "${provider.name}" has no webhook "${name}"; webhooks: ${names}`,
      );
    }
    return found;
  }
  const only = provider.webhooks.length === 1 ? provider.webhooks[0] : undefined;
  const chosen = provider.webhooks.find((w) => w.name === "default") ?? only;
  if (!chosen) {
    throw new UserError(
      `provider "${provider.name}" has several webhooks (${names}): pick one with --webhook`,
    );
  }
  return chosen;
}

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

/** Parses a comma-separated flag value into trimmed, non-empty entries. */
export function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
