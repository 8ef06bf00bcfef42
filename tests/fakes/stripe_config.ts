/**
 * Builders of normalized Stripe provider/webhook configs for tests of backfill and endpoints.
 *
 * @module
 */
import type { Config, ProviderConfig, WebhookConfig } from "../../src/config/schema.ts";

/** A stripe webhook config with the schema's defaults; `overrides` win. */
export function stripeWebhook(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    name: "default",
    provider: "stripe",
    type: "stripe",
    path: "/webhooks/stripe",
    signing_secret_env: "STRIPE_WEBHOOK_SECRET",
    tolerance_seconds: 300,
    verify_signature: true,
    allow_unverified: false,
    mode: "async",
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

/** A whole normalized config around `providers`. */
export function testConfig(
  providers: ProviderConfig[],
  overrides: { public_url?: string; database_url?: string } = {},
): Config {
  return {
    server: {
      host: "127.0.0.1",
      port: 0,
      max_body_bytes: 1_048_576,
      trusted_proxies: [],
      ...(overrides.public_url ? { public_url: overrides.public_url } : {}),
    },
    database: { url: overrides.database_url ?? "file:data/whd.db" },
    handlers: {
      dir: "handlers",
      max_attempts: 10,
      timeout_ms: 30_000,
      concurrency: 4,
      backoff_base_ms: 1_000,
      backoff_max_ms: 3_600_000,
      shutdown_grace_ms: 10_000,
      watch: false,
    },
    log: { level: "info", format: "text" },
    providers,
    source: "test",
  };
}
