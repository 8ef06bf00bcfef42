/**
 * The route table: one entry per configured webhook, with its verifier and guards built once
 * at start so the request path only looks things up.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config, RateLimitConfig, WebhookConfig } from "../config/schema.ts";
import type { Logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { PROVIDERS } from "../providers/mod.ts";
import type { Verifier } from "../providers/provider.ts";
import { type Guard, ipGuard, rateLimitGuard } from "./guards.ts";
import { defaultBurst } from "./rate_limit.ts";
import { parseAllowlist } from "../net/ip_allowlist.ts";

/** One served webhook. */
export interface Route {
  webhook: WebhookConfig;
  verifier: Verifier;
  /** Run in order before the body is read; the first Response returned is the answer. */
  guards: Guard[];
}

/** What {@linkcode buildRoutes} needs. */
export interface RouteDeps {
  config: Config;
  /** The rotation list of signing secrets of a webhook. */
  secretsFor(webhook: WebhookConfig): readonly string[];
  log: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** Builds the path → route map. */
export function buildRoutes(deps: RouteDeps): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const provider of deps.config.providers) {
    for (const webhook of provider.webhooks) {
      const labels = { provider: webhook.provider, webhook: webhook.name };
      const guards: Guard[] = [];
      const allowlist = webhook.effective_ip_allowlist;
      if (allowlist && allowlist.length > 0) {
        guards.push(ipGuard(parseAllowlist(allowlist), (client) => {
          deps.metrics.inc("whd_rejected_total", { ...labels, reason: "ip_not_allowed" });
          deps.log.warn("address not allowed", { ...labels, client });
        }));
      }
      if (webhook.effective_rate_limit) {
        guards.push(rateLimitGuard(webhook.effective_rate_limit, {
          clock: deps.clock,
          onReject: (client) => {
            deps.metrics.inc("whd_rejected_total", { ...labels, reason: "rate_limited" });
            deps.log.debug("rate limited", { ...labels, client });
          },
        }));
      }
      // Empty for a webhook with verify_signature: false (resolveSecrets sees to that).
      const verifier = PROVIDERS[webhook.type].createVerifier(webhook, deps.secretsFor(webhook));
      routes.set(webhook.path, { webhook, verifier, guards });
    }
  }
  return routes;
}

function _describeLimit(limit: RateLimitConfig): string {
  const burst = limit.burst_limit ?? defaultBurst(limit.requests_per_minute);
  return `${limit.requests_per_minute}/min burst ${burst}${limit.per_ip ? " per ip" : ""}`;
}

/** A route as `whd check` prints it. */
export interface RouteDescription {
  method: "POST";
  path: string;
  provider: string;
  webhook: string;
  verification: string;
  events: string;
  mode: "async" | "sync";
  ip_allowlist: string;
  rate_limit: string;
}

/** Describes every route for `whd check` (no secrets involved). */
export function describeRoutes(config: Config): RouteDescription[] {
  return config.providers.flatMap((provider) =>
    provider.webhooks.map((w) => ({
      method: "POST" as const,
      path: w.path,
      provider: w.provider,
      webhook: w.name,
      verification: w.verify_signature
        ? `${w.type} (${w.signing_secret_env})`
        : "NONE (allow_unverified)",
      events: w.events ? w.events.join(",") : "*",
      mode: w.mode,
      ip_allowlist: w.effective_ip_allowlist?.length ? w.effective_ip_allowlist.join(",") : "any",
      rate_limit: w.effective_rate_limit ? _describeLimit(w.effective_rate_limit) : "none",
    }))
  );
}
