/**
 * Builders of normalized Stripe provider/webhook configs for tests of backfill and endpoints.
 * Defaults come from the config schema itself, so they never drift from what the loader fills in.
 *
 * @module
 */
import {
  type Config,
  ConfigSchema,
  type ProviderConfig,
  type WebhookConfig,
  WebhookSchema,
} from "../../src/config/schema.ts";

/** A stripe webhook config with the schema's defaults; `overrides` win. */
export function stripeWebhook(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    name: "default",
    provider: "stripe",
    type: "stripe",
    ...WebhookSchema.parse({
      path: "/webhooks/stripe",
      signing_secret_env: "STRIPE_WEBHOOK_SECRET",
    }),
    ...overrides,
  };
}

/** A stripe provider aimed at `apiBase`, with `api_key_env: STRIPE_SECRET_KEY`. */
export function stripeProvider(
  apiBase: string,
  webhooks: WebhookConfig[] = [stripeWebhook()],
  overrides: Partial<ProviderConfig> = {},
): ProviderConfig {
  return {
    name: "stripe",
    type: "stripe",
    webhooks,
    api_key_env: "STRIPE_SECRET_KEY",
    api_base: apiBase,
    api_version: "2024-06-20",
    ...overrides,
  };
}

/**
 * A whole normalized config around `providers`: the schema's defaults, on loopback port 0, with
 * handler watching off.
 */
export function testConfig(
  providers: ProviderConfig[],
  overrides: { public_url?: string; database_url?: string } = {},
): Config {
  const { shape } = ConfigSchema;
  return {
    server: shape.server.parse({ host: "127.0.0.1", port: 0, public_url: overrides.public_url }),
    database: shape.database.parse({ url: overrides.database_url }),
    handlers: shape.handlers.parse({ watch: false }),
    log: shape.log.parse({}),
    providers,
    source: "test",
  };
}
